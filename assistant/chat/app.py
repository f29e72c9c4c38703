"""The chat page: a local Gradio app that answers from the index and shows each cited passage highlighted."""

from __future__ import annotations

import html
import ipaddress
import itertools
import os
import re
import shutil
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

# The network is closed and questions are private: Gradio must never phone home. Set before gradio is imported.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import assistant as _package  # noqa: E402
from assistant.answers.types import Answer, Citation  # noqa: E402
from assistant.errors import AssistantError, QuestionError  # noqa: E402
from assistant.ingest.files import SUPPORTED_SUFFIXES  # noqa: E402
from assistant.pipeline import Assistant, IngestReport, Progress  # noqa: E402
from assistant.retrieval.retriever import Filters  # noqa: E402
from assistant.settings import ChatSettings, Settings  # noqa: E402

if TYPE_CHECKING:
    import gradio as gr

SAMPLE_QUESTIONS = ["What did Dmitriev say about sanctions?", "And about NATO?"]  # the sample article's
UPLOAD_TYPES = [".txt", ".md", ".html", ".json", ".jsonl"]
EXTRACTIVE_MODE = "extractive (no LLM)"
UPLOADS_DIR = "uploads"  # inside the index folder: uploaded files stay beside the index they fed
MAX_PASSAGES = 20
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MARKER = re.compile(r"\[(\d+)\]")


class DateRangeError(AssistantError):
    """The since/until boxes do not hold a valid date range."""


# ---- rendering: answers and sources as HTML (Gradio's sanitiser keeps a, details, summary, mark, id, class) ----
def _text(value: str) -> str:
    """Article or user text made inert for HTML; newlines become <br> so no blank line can end an HTML block."""
    return html.escape(value or "", quote=True).replace("\r", "").replace("\n", "<br>")


def source_id(key: str, n: int) -> str:
    """Element id of citation n in the message `key`; unique in the chat so a marker finds its own passage."""
    return f"{key}-src-{n}"


def render_marker(key: str, n: int, title: str = "") -> str:
    return f'<a class="cite" href="#{source_id(key, n)}" title="{_text(title)}">[{n}]</a>'


def highlight_passage(c: Citation) -> str:
    """The passage text, escaped, with the quoted sentence inside <mark>."""
    passage = c.passage or ""
    start, end = c.start - c.passage_start, c.end - c.passage_start
    if not (0 <= start < end <= len(passage)) or (c.quote and passage[start:end] != c.quote):
        # Offsets that disagree with the text (an edited index, an LLM quote): find the quote instead.
        found = passage.find(c.quote) if c.quote else -1
        if found < 0:
            return _text(passage)
        start, end = found, found + len(c.quote)
    return f"{_text(passage[:start])}<mark>{_text(passage[start:end])}</mark>{_text(passage[end:])}"


def _safe_url(url: str) -> str:
    """The article URL when it is a web link; anything else (javascript:, file:) is not linked."""
    return url if re.match(r"^https?://", url or "", re.IGNORECASE) else ""


def _sentence_html(text: str, citations: list[int], key: str, titles) -> str:
    return _text(text) + "".join(" " + render_marker(key, n, titles.get(n, "")) for n in citations)


def _link_markers(escaped: str, key: str, titles: dict[int, str]) -> str:
    """Turn the [n] markers of a cited answer's text into links; unknown numbers stay plain text."""

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        return render_marker(key, n, titles[n]) if n in titles else m.group(0)

    return _MARKER.sub(link, escaped)


def render_answer(answer: Answer, key: str = "a") -> str:
    """The answer as HTML: its sentences with [n] markers linking to their passages, or a distinct abstention."""
    parts = []
    if answer.standalone_question and answer.standalone_question.strip() != (answer.question or "").strip():
        parts.append(f'<div class="understood">understood as: <q>{_text(answer.standalone_question)}</q></div>')
    if answer.abstained:
        parts.append(
            '<div class="answer answer-abstained"><span class="badge">no answer</span> '
            f"{_text(answer.answer)}"
            '<div class="hint">Try other words, a wider date range, another source or more passages.</div></div>'
        )
    else:
        titles = {c.n: c.title for c in answer.citations}
        if answer.sentences:
            body = " ".join(_sentence_html(s.text, s.citations, key, titles) for s in answer.sentences)
        else:  # an answer without sentence structure: link the [n] markers found in its text
            body = _link_markers(_text(answer.answer), key, titles)
        parts.append(f'<div class="answer">{body}</div>')
    parts += [f'<div class="note">note: {_text(note)}</div>' for note in answer.notes]
    return "".join(parts)


def render_source(c: Citation, key: str) -> str:
    """One cited passage: collapsed to its title line until its marker (or the line) is clicked."""
    meta = [_text(c.published) if c.published else "date unknown"]
    if c.source:
        meta.append(_text(c.source))
    url = _safe_url(c.url)
    if url:
        meta.append(f'<a href="{_text(url)}" target="_blank" rel="noopener noreferrer">open article ↗</a>')
    speaker = f'<span class="speaker">statement by <b>{_text(c.speaker)}</b></span>' if c.speaker else ""
    return (
        f'<details class="source" id="{source_id(key, c.n)}">'
        f'<summary><span class="source-n">[{c.n}]</span> <span class="source-title">{_text(c.title)}</span>'
        f' <span class="source-meta">{" · ".join(meta)}</span>{speaker}</summary>'
        f'<div class="passage">{highlight_passage(c)}</div></details>'
    )


def render_sources(answer: Answer, key: str = "a") -> str:
    """The sources section: each cited passage with title, date, source, link and the quote highlighted."""
    if answer.abstained or not answer.citations:
        return ""
    items = "".join(render_source(c, key) for c in answer.citations)
    return f'<div class="sources"><div class="sources-title">Sources</div>{items}</div>'


def render_message(answer: Answer, key: str = "a") -> str:
    """The whole chat message of an answer: the answer, then its sources."""
    return render_answer(answer, key) + render_sources(answer, key)


def render_partial(text: str) -> str:
    """An answer still being written (plain text; markers become links once the answer is complete)."""
    return f'<div class="answer streaming">{_text(text)}<span class="cursor">▍</span></div>'


def render_notice(message: str, kind: str = "error") -> str:
    """A message from the page itself (empty question, bad date, busy index), not an answer."""
    return f'<div class="notice notice-{kind}">{_text(message)}</div>'


def render_user(question: str) -> str:
    return _text(question)


def render_ingest_report(report: IngestReport) -> str:
    """The per-file outcome of an upload, like `assistant ingest` prints it, then the totals."""
    rows = []
    for f in report.files:
        detail = f.reason or "; ".join(f.notes)
        count = f" ({len(f.articles)} articles)" if len(f.articles) > 1 else ""
        rows.append(
            f'<li class="file-{f.status}"><b>{f.status}</b> {_text(Path(f.path).name)}{count}'
            + (f" — {_text(detail)}" if detail else "")
            + "</li>"
        )
    return f'<ul class="ingest-report">{"".join(rows)}</ul><div class="note">{_text(report.summary())}</div>'


# ---- inputs ----------------------------------------------------------------------------------------
def parse_day(value: str | None, label: str) -> str:
    """An ISO date from a YYYY-MM-DD box ("" when empty); DateRangeError with the box's name otherwise."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        if not _DATE.match(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise DateRangeError(f"'{label}' expects a date like 2025-04-05, not '{value}'.") from None


def parse_date_range(since: str | None, until: str | None) -> tuple[str, str]:
    """The (since, until) ISO dates of the filter boxes, checked to be real dates in order."""
    first, last = parse_day(since, "published since"), parse_day(until, "published until")
    if first and last and first > last:
        raise DateRangeError(f"'published since' ({first}) is after 'published until' ({last}).")
    return first, last


def make_filters(sources: list[str] | str | None, since: str | None, until: str | None) -> Filters:
    first, last = parse_date_range(since, until)
    chosen = [sources] if isinstance(sources, str) else list(sources or [])
    return Filters(sources=[s for s in chosen if s], since=first, until=last)


# ---- binding and authentication --------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach; host names other than localhost are not trusted."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_auth(chat: ChatSettings, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """User and password from ASSISTANT_CHAT_USER/ASSISTANT_CHAT_PASSWORD, else chat.auth_file; None if unset."""
    environ = os.environ if environ is None else environ
    user, password = environ.get("ASSISTANT_CHAT_USER", ""), environ.get("ASSISTANT_CHAT_PASSWORD", "")
    if user or password:
        if not (user and password):
            raise AssistantError("set both ASSISTANT_CHAT_USER and ASSISTANT_CHAT_PASSWORD, or neither")
        return user, password
    if chat.auth_file is None:
        return None
    try:
        lines = Path(chat.auth_file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AssistantError(f"the chat auth file {chat.auth_file} cannot be read: {exc.strerror}") from None
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if sep and user and password:
            return user, password
        break
    raise AssistantError(f"the chat auth file {chat.auth_file} must hold one 'user:password' line")


def check_bind(host: str, auth: tuple[str, str] | None) -> None:
    """Refuse to serve a non-loopback address without a password: the page would be open to the network."""
    if is_loopback(host) or auth:
        return
    raise AssistantError(
        f"refusing to bind {host!r} without authentication: anyone on the network could use the chat page. "
        "Set ASSISTANT_CHAT_USER and ASSISTANT_CHAT_PASSWORD (or ASSISTANT_CHAT_AUTH_FILE, a file with one "
        "'user:password' line), or bind 127.0.0.1."
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (tests and `--port 0`)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def check_port(host: str, port: int) -> None:
    """Fail early, before any model loads, when the page's port is taken (Gradio's own message is about itself)."""
    if not port:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a closing socket is no conflict
        try:
            s.bind((host, port))
        except OSError:
            raise AssistantError(
                f"port {port} on {host} is in use (another 'assistant chat'?); choose another with --port, "
                "or --port 0 for a free one"
            ) from None


# ---- the index ----------------------------------------------------------------------------------------
def checkout_root() -> Path:
    return Path(_package.__file__).resolve().parent.parent


def sample_corpus() -> Path | None:
    """data/sample/ of the checkout, if this is one (an installed wheel has no sample)."""
    path = checkout_root() / "data" / "sample"
    return path if path.is_dir() else None


def ensure_index(assistant: Assistant, log: Callable[[str], None] = print) -> str:
    """Index the sample corpus when the index is empty, so the page never opens onto nothing; says what it did."""
    if assistant.articles():
        return ""
    sample = sample_corpus()
    if sample is None:
        return "The index is empty: upload articles (.txt .md .html .json .jsonl) under 'Add articles'."
    log(f"the index in {assistant.settings.index.dir} is empty; indexing the sample corpus {sample} ...")
    report = assistant.ingest([sample])
    log(report.summary())
    return f"The index was empty, so the sample corpus ({sample}) was indexed."


def example_questions(assistant: Assistant) -> list[str]:
    """Questions to try on this index: the sample's when its article is indexed, else what its most quoted
    people said (a collection of other news has no Dmitriev)."""
    try:
        store = assistant.store
    except AssistantError:
        return []
    sample = sample_corpus()
    if sample is not None and any(Path(a.path).parent == sample.resolve() for a in store.articles.values()):
        return SAMPLE_QUESTIONS
    quoted = Counter(row["speaker"] for rows in store.statements.values() for row in rows)
    # people, not "officials": a first and a last name, both capitalised
    named = [n for n, _ in quoted.most_common() if len(n.split()) > 1 and n[0].isupper() and n.split()[-1][0].isupper()]
    return [f"What did {name} say?" for name in named[:2]]


def index_sources(assistant: Assistant) -> list[str]:
    return sorted({a.source for a in assistant.articles() if a.source}, key=str.lower)


def index_status(assistant: Assistant) -> str:
    try:
        articles = assistant.articles()
    except AssistantError as exc:
        return f"⚠ {exc}"
    if not articles:
        return "The index is empty: upload articles under 'Add articles'."
    sources = {a.source for a in articles if a.source}
    return f"{_count(len(articles), 'article')} from {_count(len(sources), 'source')} in the index."


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def store_uploads(paths: list[str], target: Path, max_bytes: int) -> tuple[list[Path], list[str]]:
    """Copy uploads into one folder under their own names (so NAME.meta.json sits beside NAME.txt).

    Returns the copies and a note per refused file. A re-upload of the same name replaces that file, and
    ingestion then replaces its articles, as `assistant ingest` does for a changed file.
    """
    target.mkdir(parents=True, exist_ok=True)
    copies, refused = [], []
    for raw in paths:
        source = Path(raw)
        name = Path(source.name).name.lstrip(".")  # no hidden files, no path parts from the client
        suffixes = "".join(Path(name).suffixes[-2:]).lower()
        if not name or not (Path(name).suffix.lower() in SUPPORTED_SUFFIXES or suffixes == ".meta.json"):
            refused.append(f"{source.name}: unsupported file type (use {' '.join(UPLOAD_TYPES)})")
            continue
        if source.stat().st_size > max_bytes:
            refused.append(f"{source.name}: larger than the {max_bytes / 1e6:g} MB upload limit")
            continue
        copy = target / name
        shutil.copyfile(source, copy)
        if not name.endswith(".meta.json"):
            copies.append(copy)
    return copies, refused


# ---- the Gradio app --------------------------------------------------------------------------------
CSS = """
#chat .answer { line-height: 1.55; }
#chat a.cite { font-weight: 600; text-decoration: none; padding: 0 .2em; border-radius: 4px;
  background: rgba(99, 102, 241, .15); }
#chat a.cite:hover { background: rgba(99, 102, 241, .35); }
#chat .answer-abstained { border-left: 4px solid #d97706; background: rgba(245, 158, 11, .12); padding: .5em .8em;
  font-style: italic; border-radius: 4px; }
#chat .badge { font-style: normal; font-size: .75em; font-weight: 700; text-transform: uppercase; color: #fff;
  background: #d97706; border-radius: 999px; padding: .1em .6em; margin-right: .4em; }
#chat .hint, #chat .note, #chat .understood { font-size: .85em; opacity: .75; }
#chat .understood { margin-bottom: .35em; }
#chat .sources { margin-top: .7em; padding-top: .4em; border-top: 1px solid rgba(128, 128, 128, .35); }
#chat .sources-title { font-weight: 700; font-size: .85em; text-transform: uppercase; letter-spacing: .04em; }
#chat details.source { margin: .35em 0; padding: .3em .6em; border: 1px solid rgba(128, 128, 128, .3);
  border-radius: 6px; }
#chat details.source[open] { background: rgba(128, 128, 128, .07); }
#chat details.source:target, #chat details.source.flash { outline: 2px solid #6366f1; }
#chat summary { cursor: pointer; }
#chat .source-n { font-weight: 700; color: #4f46e5; }
#chat .source-title { font-weight: 600; }
#chat .source-meta, #chat .speaker { display: block; font-size: .85em; opacity: .8; margin-left: 1.6em; }
#chat .passage { margin: .4em 0 .2em; line-height: 1.5; font-size: .93em; }
#chat mark { background: #fde047; color: #111; padding: 0 .1em; border-radius: 2px; }
#chat .notice { border-left: 4px solid #6b7280; padding: .3em .7em; }
#chat .notice-error { border-left-color: #dc2626; }
#chat .cursor { opacity: .5; }
.ingest-report { margin: 0; padding-left: 1.2em; }
.ingest-report .file-failed b, .ingest-report .file-skipped b { color: #dc2626; }
"""

# A click on a marker opens its <details> and scrolls to it without touching the URL (the sanitised message
# can't carry scripts; this page-level script only reads our own ids). Without it the #anchor still works.
HEAD = """<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest ? event.target.closest("a.cite") : null;
  if (!link) return;
  const target = document.getElementById((link.getAttribute("href") || "").slice(1));
  if (!target) return;
  event.preventDefault();
  target.open = true;
  target.scrollIntoView({ block: "nearest", behavior: "smooth" });
  target.classList.add("flash");
  setTimeout(() => target.classList.remove("flash"), 1600);
});
</script>"""


def respond(
    assistant: Assistant,
    question: str,
    messages: list[dict] | None,
    history: list[str] | None,
    sources: list[str] | str | None,
    since: str | None,
    until: str | None,
    k: float | None,
    mode: str | None = None,
) -> Iterator[tuple[list[dict], str, list[str]]]:
    """The chat handler: yields (messages, question box, standalone-question history) as the answer streams.

    mode is EXTRACTIVE_MODE to answer without the configured LLM, anything else to use it when there is one.
    """
    messages, history, question = list(messages or []), list(history or []), question or ""
    key = f"m{len(messages) + 1}"  # message position: unique in this chat, so element ids never collide
    try:
        filters = make_filters(sources, since, until)
        use_llm = mode != EXTRACTIVE_MODE
        stream = assistant.ask_stream(question, history, filters, int(k) if k else None, use_llm=use_llm)
        first = next(stream)  # the whole answer is prepared here; errors surface before the question shows
    except QuestionError as exc:
        yield messages + [{"role": "assistant", "content": render_notice(str(exc), "info")}], question, history
        return
    except AssistantError as exc:  # bad dates, empty or damaged index: a message in the chat, the box kept
        shown = [{"role": "user", "content": render_user(question)}] if question.strip() else []
        yield messages + shown + [{"role": "assistant", "content": render_notice(str(exc))}], question, history
        return
    messages.append({"role": "user", "content": render_user(question)})
    written = ""
    for event in itertools.chain([first], stream):
        if event.answer is None:
            written += event.delta
            yield messages + [{"role": "assistant", "content": render_partial(written)}], "", history
            continue
        history.append(event.answer.standalone_question or event.answer.question)
        messages.append({"role": "assistant", "content": render_message(event.answer, key)})
        yield messages, "", history


def upload(
    assistant: Assistant, settings: Settings, paths: list[str] | str | None, progress: Callable | None = None
) -> str:
    """Ingest uploaded files through Assistant.ingest and report per file, as `assistant ingest` does."""
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    if not paths:
        return ""
    target = Path(settings.index.dir) / UPLOADS_DIR
    copies, refused = store_uploads(paths, target, int(settings.chat.max_upload_mb * 1e6))
    report = IngestReport()
    if copies:
        try:
            report = assistant.ingest(copies, _progress_hooks(progress))
            if report.articles_added or report.articles_removed:
                warm_up_in_background(assistant)  # the new generation gets its own BM25 ranking
        except AssistantError as exc:
            return render_notice(str(exc))
        except OSError as exc:
            return render_notice(f"the index could not be saved: {exc}")
    refusals = "".join(f"<li class='file-skipped'><b>skipped</b> {_text(r)}</li>" for r in refused)
    refusals = f'<ul class="ingest-report">{refusals}</ul>' if refused else ""
    return (render_ingest_report(report) if copies else "") + refusals


def _progress_hooks(progress: Callable | None) -> Progress:
    """pipeline.Progress hooks that drive a gr.Progress bar (no-op hooks without one)."""
    if progress is None:
        return Progress()
    state = {"label": "", "total": 0, "done": 0}

    def start(label: str, total: int) -> None:
        state.update(label=label, total=max(total, 1), done=0)
        progress((0, state["total"]), desc=label)

    def advance(n: int) -> None:
        state["done"] += n
        progress((min(state["done"], state["total"]), state["total"]), desc=state["label"])

    return Progress(start, advance)


def build_app(assistant: Assistant, settings: Settings, notice: str = "") -> gr.Blocks:
    """The chat page; `notice` is shown above the chat (e.g. that the sample corpus was just indexed)."""
    import gradio as gr

    def ask(question, messages, history, sources, since, until, k, mode):
        yield from respond(assistant, question, messages, history, sources, since, until, k, mode)

    def ingest_files(paths, progress=gr.Progress()):  # noqa: B008 - gradio injects progress via the default
        report = upload(assistant, settings, paths, progress)
        return report, gr.update(choices=_safe_sources()), index_status(assistant), None

    def _safe_sources() -> list[str]:
        try:
            return index_sources(assistant)
        except AssistantError:
            return []

    def on_load():
        # The page may open long after an `assistant ingest` elsewhere: re-read the sources each time.
        return gr.update(choices=_safe_sources()), " ".join(filter(None, [notice, index_status(assistant)]))

    examples = example_questions(assistant)
    # Upload copies live in Gradio's temporary folder only until ingested: clear them hourly.
    with gr.Blocks(title="News assistant", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("## Ask your news articles\nEvery answer cites the sentences it rests on; click a [n] marker.")
        status = gr.Markdown(elem_id="index-status")  # filled on page load
        history = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    label="Chat",
                    show_label=False,
                    height="68vh",
                    min_height=420,
                    render_markdown=False,  # we send finished, escaped HTML; no markdown or LaTeX on article text
                    latex_delimiters=[],
                    sanitize_html=True,
                    allow_tags=False,
                    buttons=["copy"],
                    feedback_options=None,
                    layout="panel",
                    placeholder="Ask about the indexed articles" + (f", e.g. “{examples[0]}”" if examples else "."),
                )
                with gr.Row():
                    question = gr.Textbox(
                        "",
                        placeholder="Ask a question about the articles…",
                        show_label=False,
                        scale=6,
                        elem_id="question",
                        max_lines=4,
                        autofocus=True,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    if examples:
                        gr.Examples([[q] for q in examples], inputs=[question], label="Try")
                    clear = gr.Button("New conversation", size="sm", scale=0)
            with gr.Column(scale=1, min_width=260):
                sources = gr.Dropdown(choices=_safe_sources(), multiselect=True, label="Sources (all if empty)")
                since = gr.Textbox("", label="Published since", placeholder="YYYY-MM-DD", elem_id="since")
                until = gr.Textbox("", label="Published until", placeholder="YYYY-MM-DD", elem_id="until")
                k = gr.Slider(
                    1, MAX_PASSAGES, value=min(settings.retrieval.top_k, MAX_PASSAGES), step=1, label="Passages"
                )
                llm = settings.llm
                llm_mode = f"LLM ({llm.backend}: {llm.model or (llm.path.name if llm.path else 'default')})"
                mode = gr.Radio(
                    [llm_mode, EXTRACTIVE_MODE],
                    value=llm_mode if llm.backend != "none" else EXTRACTIVE_MODE,
                    label="Answer with",
                    visible=llm.backend != "none",  # the choice exists only once an LLM is configured
                    elem_id="answer-mode",
                )
                with gr.Accordion("Add articles", open=False):
                    files = gr.File(
                        file_count="multiple",
                        file_types=UPLOAD_TYPES,
                        type="filepath",
                        label=f"Articles ({' '.join(UPLOAD_TYPES)}; up to {settings.chat.max_upload_mb:g} MB each)",
                    )
                    report = gr.HTML(elem_id="ingest-report")

        inputs = [question, chatbot, history, sources, since, until, k, mode]
        outputs = [chatbot, question, history]
        question.submit(ask, inputs, outputs, api_name="ask")
        send.click(ask, inputs, outputs, api_visibility="undocumented")
        clear.click(lambda: ([], "", []), None, [chatbot, question, history], api_visibility="private")
        chatbot.clear(lambda: [], None, [history], api_visibility="private")
        files.upload(ingest_files, [files], [report, sources, status, files], api_name="upload", concurrency_limit=1)
        demo.load(on_load, None, [sources, status], api_visibility="private")
    return demo


def launch(
    demo: gr.Blocks,
    settings: Settings,
    auth: tuple[str, str] | None = None,
    *,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
):
    """Serve the page with the safe defaults; returns Gradio's (app, local_url, share_url)."""
    import gradio as gr

    chat = settings.chat
    check_bind(chat.host, auth)
    port = chat.port or free_port(chat.host if is_loopback(chat.host) else "0.0.0.0")
    demo.queue(default_concurrency_limit=chat.concurrency, max_size=chat.max_queue)
    # Gradio serves only its upload/cache folders; block the index and the checkout even if those change.
    blocked = {str(Path(settings.index.dir).resolve()), str(checkout_root())}
    theme = gr.themes.Soft(  # local fonts only: the page must not wait on Google Fonts behind a closed network
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    return demo.launch(
        server_name=chat.host,
        server_port=port,
        auth=auth,
        share=False,
        max_file_size=int(chat.max_upload_mb * 1e6),
        state_session_capacity=chat.session_capacity,
        blocked_paths=sorted(blocked),
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        show_error=False,
        enable_monitoring=False,
        mcp_server=False,
        ssr_mode=False,
        run_history=False,
        footer_links=["api"],
        theme=theme,
        css=CSS,
        head=HEAD,
    )


def serve(settings: Settings, log: Callable[[str], None] = print) -> None:
    """`assistant chat`: check the bind first (before loading any model), fill an empty index, serve."""
    auth = load_auth(settings.chat)
    check_bind(settings.chat.host, auth)
    check_port(settings.chat.host, settings.chat.port)
    assistant = Assistant(settings)
    notice = ensure_index(assistant, log)
    warm_up_in_background(assistant)
    launch(build_app(assistant, settings, notice), settings, auth)


def warm_up_in_background(assistant: Assistant) -> threading.Thread:
    """Build the BM25 ranking (seconds on a large index) while the page loads, not on the first question."""
    thread = threading.Thread(target=assistant.warm_up, name="warm-up", daemon=True)
    thread.start()
    return thread
