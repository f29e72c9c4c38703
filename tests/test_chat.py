"""The chat page: rendering and input checks as plain functions, then the real app served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from fake_llm import FakeLLM

from assistant.answers.types import Answer, AnswerSentence, Citation, abstain
from assistant.chat import (
    EXTRACTIVE_MODE,
    SAMPLE_QUESTIONS,
    DateRangeError,
    build_app,
    check_bind,
    check_port,
    ensure_index,
    example_questions,
    is_loopback,
    launch,
    load_auth,
    parse_date_range,
    render_answer,
    render_message,
    render_refusals,
    render_sources,
    respond,
    upload,
    upload_name,
    upload_refusal,
    warm_up_in_background,
)
from assistant.errors import AssistantError
from assistant.pipeline import Assistant
from assistant.settings import ChatSettings, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "What did Dmitriev say about sanctions?"
SANCTIONS_SENTENCE = "did not ask for relief from Western sanctions"


def settings_for(index_dir: Path) -> Settings:
    settings = Settings()
    settings.index.dir = index_dir
    return settings


def citation(**changes) -> Citation:
    """Citation 1 quoting 'Second sentence.' of a two-sentence passage that starts at offset 100."""
    passage = "First sentence here. Second sentence."
    values = dict(
        n=1,
        article_id="a1",
        title="A title",
        published="2025-04-05",
        source="wire",
        url="https://example.org/a",
        quote="Second sentence.",
        passage=passage,
        start=121,
        end=137,
        passage_start=100,
        passage_end=100 + len(passage),
    )
    values.update(changes)
    return Citation(**values)


def cited_answer(*citations: Citation, **changes) -> Answer:
    sentences = [AnswerSentence(c.quote, [c.n]) for c in citations]
    values = dict(
        question="q?", answer=" ".join(f"{c.quote} [{c.n}]" for c in citations), abstained=False,
        citations=list(citations), sentences=sentences, standalone_question="q?",
    )  # fmt: skip
    values.update(changes)
    return Answer(**values)


# ---- rendering: plain functions -----------------------------------------------------------------------
def test_markers_link_to_passages_with_the_quote_marked():
    answer = cited_answer(citation())
    html = render_message(answer, key="m2")
    assert '<a class="cite" href="#m2-src-1"' in html
    assert '<details class="source" id="m2-src-1">' in html
    assert "First sentence here. <mark>Second sentence.</mark>" in html
    assert "2025-04-05" in html and "wire" in html and 'href="https://example.org/a"' in html
    assert "A title" in html


def test_quote_found_by_text_when_offsets_disagree():
    html = render_sources(cited_answer(citation(start=5, end=9)))
    assert "<mark>Second sentence.</mark>" in html


@pytest.mark.slow
def test_real_answer_marks_the_cited_sentence_in_its_passage(sample_assistant):
    answer = sample_assistant.ask(EXAMPLE)
    html = render_message(answer, key="m1")
    marked = [part.split("</mark>")[0] for part in html.split("<mark>")[1:]]
    assert len(marked) == len(answer.citations) >= 1
    assert any(SANCTIONS_SENTENCE in m for m in marked)


def test_article_text_is_rendered_inert():
    evil = citation(
        title="<img src=x onerror=alert(1)>",
        source="<b>wire</b>",
        url="javascript:alert(1)",
        passage="<script>alert(1)</script> Second sentence.",
        quote="Second sentence.",
        start=126,
        end=142,
        speaker='"><script>x</script>',
    )
    html = render_message(cited_answer(evil, question="<script>q</script>", standalone_question="<i>"))
    assert "<script" not in html and "<img" not in html and "<b>wire" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html  # only http(s) article links become links
    assert "<mark>Second sentence.</mark>" in html


def test_abstention_looks_different_and_cites_nothing():
    answer = abstain("Who won the 1954 World Cup?")
    html = render_answer(answer)
    assert "answer-abstained" in html and "no answer" in html
    assert answer.answer in html.replace("&#x27;", "'")
    assert render_sources(answer) == ""
    assert "answer-abstained" not in render_answer(cited_answer(citation()))


def test_sentences_link_their_markers_and_speaker_shown():
    c = citation(speaker="Kirill Dmitriev")
    answer = cited_answer(c)
    answer.sentences = [AnswerSentence("Sanctions were not discussed <b>at all</b>.", [1])]
    html = render_message(answer)
    assert "Sanctions were not discussed &lt;b&gt;at all&lt;/b&gt;. <a" in html  # escaped text, then the marker
    assert "statement by <b>Kirill Dmitriev</b>" in html


def test_understood_as_shown_only_for_a_rewritten_question():
    rewritten = cited_answer(citation(), question="And about NATO?", standalone_question="What about NATO?")
    assert "understood as: <q>What about NATO?</q>" in render_answer(rewritten)
    assert "understood as" not in render_answer(cited_answer(citation()))


def test_answer_without_sentences_links_known_markers_only():
    answer = cited_answer(citation(), answer="Text [1] and [7].", sentences=[])
    html = render_answer(answer, key="k")
    assert '<a class="cite" href="#k-src-1"' in html and "[7]" in html and "#k-src-7" not in html


# ---- inputs, binding, auth and uploads: plain functions -------------------------------------------------
def test_parse_date_range():
    assert parse_date_range("", None) == ("", "")
    assert parse_date_range(" 2025-04-01 ", "2025-04-30") == ("2025-04-01", "2025-04-30")
    with pytest.raises(DateRangeError, match="published since.*2025-04-05"):
        parse_date_range("05/04/2025", "")
    with pytest.raises(DateRangeError, match="published until"):
        parse_date_range("", "2025-02-30")
    with pytest.raises(DateRangeError, match="after"):
        parse_date_range("2025-05-01", "2025-04-01")


def test_bind_needs_auth_off_loopback():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host)
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "", "192.168.1.5", "example.org"):
        assert not is_loopback(host)
        with pytest.raises(AssistantError, match="refusing to bind"):
            check_bind(host, None)
    check_bind("0.0.0.0", ("ann", "secret"))


def test_load_auth_from_env_or_file(tmp_path, monkeypatch):
    for name in ("ASSISTANT_CHAT_USER", "ASSISTANT_CHAT_PASSWORD", "ASSISTANT_CHAT_AUTH_FILE"):
        monkeypatch.delenv(name, raising=False)
    chat = ChatSettings()
    assert load_auth(chat) is None
    monkeypatch.setenv("ASSISTANT_CHAT_USER", "ann")
    monkeypatch.setenv("ASSISTANT_CHAT_PASSWORD", "s3:cret")
    assert load_auth(load_settings().chat) == ("ann", "s3:cret")
    with pytest.raises(AssistantError, match="both"):
        load_auth(ChatSettings(user="ann"))
    auth_file = tmp_path / "auth"
    auth_file.write_text("# chat users\nbob:pa:ss\n")
    assert load_auth(ChatSettings(auth_file=auth_file)) == ("bob", "pa:ss")
    auth_file.write_text("bob\n")
    with pytest.raises(AssistantError, match="user:password"):
        load_auth(ChatSettings(auth_file=auth_file))
    with pytest.raises(AssistantError, match="cannot be read"):
        load_auth(ChatSettings(auth_file=tmp_path / "missing"))


def test_the_chat_password_never_shows(monkeypatch):
    monkeypatch.setenv("ASSISTANT_CHAT_USER", "ann")
    monkeypatch.setenv("ASSISTANT_CHAT_PASSWORD", "s3:cret")
    settings = load_settings()
    assert settings.chat.password is not None and settings.chat.password.get_secret_value() == "s3:cret"
    for shown in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert "s3:cret" not in shown
    with pytest.raises(AssistantError) as refused:
        load_auth(ChatSettings(password="s3:cret"))
    assert "s3:cret" not in str(refused.value)


def test_a_taken_port_is_reported_before_anything_loads():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AssistantError, match=f"port {port} on 127.0.0.1 is in use.*--port"):
            check_port("127.0.0.1", port)
    check_port("127.0.0.1", port)  # free again


def test_upload_checks_type_size_and_name():
    assert upload_refusal("council.txt", 10, 100) == "" and upload_refusal("council.meta.json", 10, 100) == ""
    assert upload_refusal("tool.exe", 10, 100) == "tool.exe: unsupported file type (use .txt .md .html .json .jsonl)"
    assert "unsupported file type" in upload_refusal("...", 10, 100)  # nothing left once the dots go
    assert upload_refusal("big.txt", 101, 100) == "big.txt: larger than the 0.0001 MB upload limit"
    assert upload_name("../../.bashrc.txt") == "bashrc.txt"  # no folder parts, no hidden file
    assert render_refusals([]) == ""
    assert "<b>skipped</b> &lt;b&gt;x.exe" in render_refusals(["<b>x.exe: unsupported file type"])


@pytest.mark.slow
def test_cli_refuses_open_bind_without_auth(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_CHAT_")}
    cli = [sys.executable, "-m", "assistant", "chat", "--host", "0.0.0.0", "--index", str(tmp_path / "ix")]
    result = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "refusing to bind '0.0.0.0' without authentication" in result.stderr
    assert not (tmp_path / "ix").exists()  # refused before touching the index


# ---- handlers over a real index, without a server (slow: the embedder loads) ---------------------------
@pytest.mark.slow
def test_empty_question_and_bad_dates_answer_with_a_message(sample_assistant):
    *_, (messages, box, history) = respond(sample_assistant, "  ", [], [], [], "", "", 5)
    assert len(messages) == 1 and "Please type a question" in messages[0]["content"] and history == []
    *_, (messages, box, history) = respond(sample_assistant, EXAMPLE, [], [], [], "April", "", 5)
    assert "expects a date like 2025-04-05" in messages[-1]["content"] and box == EXAMPLE


@pytest.mark.slow
def test_streams_then_answers_and_remembers_the_standalone_question(sample_assistant):
    steps = list(respond(sample_assistant, EXAMPLE, [], [], [], "", "", 5))
    assert len(steps) >= 2 and "streaming" in steps[0][0][-1]["content"]
    messages, box, history = steps[-1]
    assert [m["role"] for m in messages] == ["user", "assistant"] and box == ""
    assert history == [EXAMPLE] and SANCTIONS_SENTENCE in messages[-1]["content"]
    *_, (messages, _, history) = respond(sample_assistant, "And about NATO?", messages, history, [], "", "", 5)
    assert history[-1] == "What did Dmitriev say about NATO?"
    assert 'id="m3-src-1"' in messages[-1]["content"]  # ids differ from the first answer's


@pytest.mark.slow
def test_answer_mode_switches_between_the_llm_and_extractive(sample_assistant):
    llm = FakeLLM()
    llm.queue("The moon is made of cheese [1].")
    sample_assistant.router.llm, sample_assistant.settings.llm.backend = llm, "openai"
    question = "What happened to the sanctions in the Washington talks?"
    try:
        *_, (with_llm, _, _) = respond(sample_assistant, question, [], [], [], "", "", 5, "LLM (openai: fake)")
        *_, (without, _, _) = respond(sample_assistant, question, [], [], [], "", "", 5, EXTRACTIVE_MODE)
    finally:
        sample_assistant.router.llm, sample_assistant.settings.llm.backend = None, "none"
    assert len(llm.prompts) == 1  # the extractive turn never called the LLM
    assert "not supported by the passages" in with_llm[-1]["content"]  # the fallback says why
    assert "not supported by the passages" not in without[-1]["content"]


@pytest.mark.slow
def test_date_filter_excluding_everything_answers_from_nothing(sample_assistant):
    *_, (messages, _, _) = respond(sample_assistant, EXAMPLE, [], [], [], "2030-01-01", "", 5)
    assert "answer-abstained" in messages[-1]["content"] and 'class="sources"' not in messages[-1]["content"]


@pytest.mark.slow
def test_upload_ingests_with_sidecar_and_refuses_bad_files(tmp_path, embedder):
    settings = settings_for(tmp_path / "index")
    settings.chat.max_upload_mb = 0.01
    uploads = tmp_path / "incoming"
    for name in ("a", "b", "c"):
        (uploads / name).mkdir(parents=True)
    (uploads / "a" / "council.txt").write_text(
        "The Eastbrook city council approved a new budget for the public library on Monday. "
        "The mayor said the reading rooms will reopen in June after the renovation.\n"
    )
    (uploads / "b" / "council.meta.json").write_text('{"title": "Eastbrook library budget", "source": "gazette"}')
    (uploads / "c" / "tool.exe").write_bytes(b"MZ")
    (uploads / "c" / "huge.txt").write_text("word " * 5000)
    paths = [str(p) for p in sorted(uploads.rglob("*.*"))]
    assistant = Assistant(settings, embedder)
    report = upload(assistant, settings, paths)
    assert "<b>ingested</b> council.txt" in report
    assert "tool.exe: unsupported file type" in report and "huge.txt: larger than the 0.01 MB" in report
    (article,) = assistant.articles()
    assert article.title == "Eastbrook library budget" and article.source == "gazette"
    assert Path(article.path).parent == settings.index.dir.resolve() / "uploads"
    # the new index generation gets its BM25 ranking on a background thread, not on the next question
    for _ in range(600):
        warmed = assistant._retriever
        if warmed is not None and warmed.store is assistant.store and warmed._bm25 is not None:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the upload did not warm the new index up")


@pytest.mark.slow
def test_warm_up_builds_bm25_before_the_first_question_and_the_question_reuses_it(sample_index, embedder, tmp_path):
    shutil.copytree(sample_index, tmp_path / "index")
    assistant = Assistant(settings_for(tmp_path / "index"), embedder)
    thread = warm_up_in_background(assistant)
    thread.join(timeout=120)
    assert not thread.is_alive()
    retriever = assistant.retriever
    built = retriever._bm25
    assert built is not None and retriever.bm25_build_seconds > 0
    assert not assistant.ask("What did Dmitriev say about sanctions?").abstained
    assert assistant.retriever is retriever and retriever._bm25 is built


@pytest.mark.slow
def test_warm_up_of_an_empty_index_is_silent(tmp_path, embedder, capsys):
    warm_up_in_background(Assistant(settings_for(tmp_path / "empty"), embedder)).join(timeout=120)
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_empty_index_gets_the_sample_corpus(tmp_path, embedder):
    assistant = Assistant(settings_for(tmp_path / "index"), embedder)
    said: list[str] = []
    assert "sample corpus" in ensure_index(assistant, said.append)
    assert [a.source for a in assistant.articles()] == ["sample"] and said
    assert ensure_index(assistant, said.append) == ""  # a filled index is left alone


@pytest.mark.slow
def test_the_examples_fit_the_index(sample_assistant, tmp_path, embedder):
    assert example_questions(sample_assistant) == SAMPLE_QUESTIONS
    (tmp_path / "port.txt").write_text(
        "Port strike ends\n\nDock workers voted on Saturday to accept a pay rise after a long strike.\n\n"
        "Maria Lopez, the union leader, said: “We will not accept cuts again.”\n"
    )
    settings = Settings()
    settings.index.dir = tmp_path / "index"
    other = Assistant(settings, embedder)
    assert example_questions(other) == []  # nothing indexed yet: nothing to suggest
    other.ingest([tmp_path / "port.txt"])
    assert example_questions(other) == ["What did Maria Lopez say?"]


@pytest.mark.slow
def test_a_jsonl_upload_into_an_existing_index_is_ingested(sample_index, tmp_path, embedder):
    # uploads are kept in INDEX/uploads/: that folder holds articles, not index files
    shutil.copytree(sample_index, tmp_path / "index")
    settings = settings_for(tmp_path / "index")
    record = {"title": "Eastbrook library budget", "text": "The Eastbrook city council approved a new budget for "
              "the public library on Monday; the reading rooms reopen in June."}  # fmt: skip
    (tmp_path / "news.jsonl").write_text(json.dumps(record) + "\n")
    assistant = Assistant(settings, embedder)
    report = upload(assistant, settings, [str(tmp_path / "news.jsonl")])
    assert "<b>ingested</b> news.jsonl" in report
    assert "Eastbrook library budget" in {a.title for a in assistant.articles()}


# ---- the real app on 127.0.0.1 -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chat_server(sample_index, embedder, tmp_path_factory):
    """The chat app over a copy of the sample index, on a free loopback port: (demo, url, settings)."""
    index_dir = tmp_path_factory.mktemp("chat") / "index"
    shutil.copytree(sample_index, index_dir)
    settings = settings_for(index_dir)
    settings.chat.port = 0
    settings.chat.max_upload_mb = 0.05
    demo = build_app(Assistant(settings, embedder), settings)
    _, url, _ = launch(demo, settings, prevent_thread_lock=True, quiet=True)
    yield demo, url.rstrip("/"), settings
    demo.close()


@pytest.fixture
def client(chat_server):
    from gradio_client import Client

    return Client(chat_server[1] + "/", verbose=False)  # a fresh session: its own follow-up history


def last_text(messages: list[dict]) -> str:
    content = messages[-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


@pytest.mark.slow
def test_page_answers_the_example_with_sources(client):
    messages, box = client.predict(EXAMPLE, api_name="/ask")
    html = last_text(messages)
    assert box == "" and [m["role"] for m in messages] == ["user", "assistant"]
    assert 'class="sources"' in html and '<a class="cite" href="#m1-src-' in html
    assert any(SANCTIONS_SENTENCE in part.split("</details>")[0] for part in html.split('<details class="source"'))


@pytest.mark.slow
def test_page_follow_up_uses_the_conversation(client):
    messages, _ = client.predict(EXAMPLE, api_name="/ask")
    messages, _ = client.predict("And about NATO?", messages, api_name="/ask")
    html = last_text(messages)
    assert "understood as: <q>What did Dmitriev say about NATO?</q>" in html
    passages = [part.split("</details>")[0] for part in html.split('<details class="source"')[1:]]
    assert passages and any("NATO" in p for p in passages)


@pytest.mark.slow
def test_page_empty_question_gets_a_message(client):
    messages, _ = client.predict("", api_name="/ask")
    assert "Please type a question" in last_text(messages)


@pytest.mark.slow
def test_page_listens_on_loopback_only(chat_server):
    demo, url, _ = chat_server
    port = int(url.rsplit(":", 1)[1])
    assert url.startswith("http://127.0.0.1:") and demo.server_name == "127.0.0.1"
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                listening.add(address)
    assert listening == {"0100007F"}  # 127.0.0.1, nothing on 0.0.0.0 or IPv6


@pytest.mark.slow
@pytest.mark.parametrize("route", ["/gradio_api/file=", "/gradio_api/file/"])
def test_file_route_refuses_files_outside_the_app(chat_server, route):
    _, url, settings = chat_server
    targets = [settings.index.dir.resolve() / "manifest.json", Path("/etc/passwd"), ROOT / "pyproject.toml"]
    for target in targets:
        assert target.exists()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}{route}{target}", timeout=10)
        assert refused.value.code in (403, 404), target


@pytest.mark.slow
def test_upload_over_the_size_limit_is_refused(chat_server):
    _, url, _ = chat_server
    big = ("x" * 60_000).encode()  # the fixture allows 0.05 MB
    response = httpx.post(f"{url}/gradio_api/upload", files={"files": ("big.txt", big, "text/plain")}, timeout=10)
    assert response.status_code == 413


@pytest.mark.slow
def test_page_upload_then_answers_from_the_new_article(client, tmp_path):
    from gradio_client import handle_file

    article = tmp_path / "harbour.txt"
    article.write_text(
        "Port Wendell opened its rebuilt harbour wall on Tuesday after two winters of storm damage. "
        "The harbour master said the wall will protect forty fishing boats from winter storms.\n"
    )
    report, *_ = client.predict([handle_file(str(article))], api_name="/upload")
    assert "<b>ingested</b> harbour.txt" in report
    messages, _ = client.predict("What will the harbour wall protect?", api_name="/ask")
    assert "forty fishing boats" in last_text(messages)
