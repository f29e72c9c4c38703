"""The evaluation report in a real headless Chromium: it opens from disk, draws its plots, filters its table."""

from __future__ import annotations

import shutil

import pytest
import yaml
from typer.testing import CliRunner

from assistant.cli import app
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, SAMPLE_DIR, unavailable

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(sample_index, tmp_path_factory):
    """report.html of a small set run through `assistant eval`: questions that pass and one that cannot."""
    tmp = tmp_path_factory.mktemp("report-browser")
    sample = yaml.safe_load((ROOT / "evals" / "sample.yaml").read_text(encoding="utf-8"))
    questions = [q for q in sample["questions"] if q["id"] in {"sanctions-dmitriev", "where-met", "capital-australia"}]
    questions.append(
        {
            "id": "evidence-not-in-the-article",
            "question": "What did Dmitriev say about sanctions?",
            "answerable": True,
            "evidence": ["a sentence the article does not contain"],
            "tags": ["speaker"],
        }
    )
    small = {"name": "browser", "corpus": str(SAMPLE_DIR), "questions": questions, "thresholds": {"hit_at_10": 0.5}}
    set_file = tmp / "browser.yaml"
    set_file.write_text(yaml.safe_dump(small, allow_unicode=True), encoding="utf-8")
    index = tmp / "index"
    shutil.copytree(sample_index, index)
    out = tmp / "run"
    result = CliRunner().invoke(app, ["eval", str(set_file), "--index", str(index), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "report.html"


def test_report_opens_offline_with_its_plots_and_filters_failed_questions(report):
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is absent (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            outside: list[str] = []  # self-contained: nothing but the file itself is loaded
            page.on("request", lambda r: None if r.url == report.as_uri() else outside.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri())

            charts = page.locator("svg.chart")
            assert charts.count() >= 2  # metrics per tag, latency per stage
            for chart in charts.all():
                box = chart.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 50
                bars = [b for b in (r.bounding_box() for r in chart.locator("rect").all()) if b and b["width"] > 0]
                assert any(b["height"] > 1 for b in bars), "a plot drew no bar"

            rows = page.locator("#questions tr")
            expect(rows).to_have_count(5)  # the header and four questions
            failed = page.locator("#questions tr.fail")
            expect(failed).to_have_count(1)
            expect(failed).to_contain_text("evidence-not-in-the-article")
            passed = page.locator("#questions tr.pass")
            assert passed.count() == 3
            expect(passed.first).to_be_visible()

            page.locator("#only-failed").check()
            for row in passed.all():
                expect(row).to_be_hidden()
            expect(failed).to_be_visible()
            expect(page.get_by_text("hit_at_10", exact=True)).to_be_visible()  # the thresholds table stays whole
            page.locator("#only-failed").uncheck()
            expect(passed.first).to_be_visible()
            assert not outside and not errors, (outside, errors)

            shot = ROOT / "artifacts" / "report.png"
            shot.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
