"""The chat page in a real headless Chromium: ask, see the streamed answer and its sources, open a passage."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assistant.chat import build_app, launch
from assistant.pipeline import Assistant
from assistant.settings import Settings
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, unavailable

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "What did Dmitriev say about sanctions?"
SANCTIONS_SENTENCE = "did not ask for relief from Western sanctions"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page_url(sample_index, embedder, tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("chat-browser") / "index"
    shutil.copytree(sample_index, index_dir)
    settings = Settings()
    settings.index.dir = index_dir
    settings.chat.port = 0
    demo = build_app(Assistant(settings, embedder), settings)
    _, url, _ = launch(demo, settings, prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


def test_ask_and_open_a_cited_passage(page_url):
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is absent (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1300})
            outside: list[str] = []  # the page must work with the network closed: nothing leaves loopback
            page.on("request", lambda r: None if r.url.startswith(page_url) else outside.append(r.url))
            page.goto(page_url)

            box = page.locator("#question textarea")
            box.fill(EXAMPLE)
            box.press("Enter")
            answer = page.locator("#chat .answer:not(.streaming)")
            expect(answer).to_have_count(1, timeout=60_000)
            expect(page.locator("#chat .sources details.source").first).to_be_visible()
            expect(box).to_have_value("")

            # The marker whose quote (the <mark> in its passage) is the sanctions sentence; it starts collapsed.
            markers = page.locator("#chat a.cite")
            target_ids = [m.get_attribute("href").lstrip("#") for m in markers.all()]
            texts = [page.locator(f"#{i} .passage mark").text_content() for i in target_ids]
            index = next(i for i, text in enumerate(texts) if SANCTIONS_SENTENCE in text)
            passage = page.locator(f"#{target_ids[index]}")
            expect(passage).not_to_have_attribute("open", "")
            markers.nth(index).click()
            expect(passage).to_have_attribute("open", "")
            mark = passage.locator("mark")
            expect(mark).to_be_visible()
            expect(mark).to_contain_text(SANCTIONS_SENTENCE)
            assert not outside, outside

            shot = ROOT / "artifacts" / "chat.png"
            shot.parent.mkdir(exist_ok=True)
            page.wait_for_timeout(600)  # the smooth scroll to the passage settles
            page.screenshot(path=str(shot))
            if os.environ.get("UPDATE_README_SCREENSHOT"):  # refresh docs/chat.png only when asked to
                shutil.copyfile(shot, ROOT / "docs" / "chat.png")
        finally:
            browser.close()
