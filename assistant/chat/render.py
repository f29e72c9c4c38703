"""Answers, their cited passages and upload reports as HTML (Gradio's sanitiser keeps a, details, mark, id, class)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answers.types import Answer, Citation

if TYPE_CHECKING:
    from assistant.pipeline import IngestReport

_MARKER = re.compile(r"\[(\d+)\]")


def escape_text(value: str) -> str:
    """Article or user text made inert for HTML; newlines become <br> so no blank line can end an HTML block."""
    return html.escape(value or "", quote=True).replace("\r", "").replace("\n", "<br>")


def source_id(key: str, n: int) -> str:
    """Element id of citation n in the message `key`; unique in the chat so a marker finds its own passage."""
    return f"{key}-src-{n}"


def render_marker(key: str, n: int, title: str = "") -> str:
    return f'<a class="cite" href="#{source_id(key, n)}" title="{escape_text(title)}">[{n}]</a>'


def highlight_passage(c: Citation) -> str:
    """The passage text, escaped, with the quoted sentence inside <mark>."""
    passage = c.passage or ""
    start, end = c.start - c.passage_start, c.end - c.passage_start
    if not (0 <= start < end <= len(passage)) or (c.quote and passage[start:end] != c.quote):
        # Offsets that disagree with the text (an edited index, an LLM quote): find the quote instead.
        found = passage.find(c.quote) if c.quote else -1
        if found < 0:
            return escape_text(passage)
        start, end = found, found + len(c.quote)
    return f"{escape_text(passage[:start])}<mark>{escape_text(passage[start:end])}</mark>{escape_text(passage[end:])}"


def _safe_url(url: str) -> str:
    """The article URL when it is a web link; anything else (javascript:, file:) is not linked."""
    return url if re.match(r"^https?://", url or "", re.IGNORECASE) else ""


def _sentence_html(text: str, citations: list[int], key: str, titles: dict[int, str]) -> str:
    return escape_text(text) + "".join(" " + render_marker(key, n, titles.get(n, "")) for n in citations)


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
        parts.append(f'<div class="understood">understood as: <q>{escape_text(answer.standalone_question)}</q></div>')
    if answer.abstained:
        parts.append(
            '<div class="answer answer-abstained"><span class="badge">no answer</span> '
            f"{escape_text(answer.answer)}"
            '<div class="hint">Try other words, a wider date range, another source or more passages.</div></div>'
        )
    else:
        titles = {c.n: c.title for c in answer.citations}
        if answer.sentences:
            body = " ".join(_sentence_html(s.text, s.citations, key, titles) for s in answer.sentences)
        else:  # an answer without sentence structure: link the [n] markers found in its text
            body = _link_markers(escape_text(answer.answer), key, titles)
        parts.append(f'<div class="answer">{body}</div>')
    parts += [f'<div class="note">note: {escape_text(note)}</div>' for note in answer.notes]
    return "".join(parts)


def render_source(c: Citation, key: str) -> str:
    """One cited passage: collapsed to its title line until its marker (or the line) is clicked."""
    meta = [escape_text(c.published) if c.published else "date unknown"]
    if c.source:
        meta.append(escape_text(c.source))
    url = _safe_url(c.url)
    if url:
        meta.append(f'<a href="{escape_text(url)}" target="_blank" rel="noopener noreferrer">open article ↗</a>')
    speaker = f'<span class="speaker">statement by <b>{escape_text(c.speaker)}</b></span>' if c.speaker else ""
    return (
        f'<details class="source" id="{source_id(key, c.n)}">'
        f'<summary><span class="source-n">[{c.n}]</span> <span class="source-title">{escape_text(c.title)}</span>'
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
    return f'<div class="answer streaming">{escape_text(text)}<span class="cursor">▍</span></div>'


def render_notice(message: str, kind: str = "error") -> str:
    """A message from the page itself (empty question, bad date, busy index), not an answer."""
    return f'<div class="notice notice-{kind}">{escape_text(message)}</div>'


def render_user(question: str) -> str:
    return escape_text(question)


def render_ingest_report(report: IngestReport) -> str:
    """The per-file outcome of an upload, like `assistant ingest` prints it, then the totals."""
    rows = []
    for f in report.files:
        detail = f.reason or "; ".join(f.notes)
        count = f" ({len(f.articles)} articles)" if len(f.articles) > 1 else ""
        rows.append(
            f'<li class="file-{f.status}"><b>{f.status}</b> {escape_text(Path(f.path).name)}{count}'
            + (f" — {escape_text(detail)}" if detail else "")
            + "</li>"
        )
    return f'<ul class="ingest-report">{"".join(rows)}</ul><div class="note">{escape_text(report.summary())}</div>'


def render_refusals(refused: list[str]) -> str:
    """The uploads refused before ingestion (type, size), one line each; "" when none was."""
    if not refused:
        return ""
    items = "".join(f"<li class='file-skipped'><b>skipped</b> {escape_text(r)}</li>" for r in refused)
    return f'<ul class="ingest-report">{items}</ul>'
