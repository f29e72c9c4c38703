"""The chat handler: a question, the conversation so far and the filter boxes in; the answer's messages out."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from assistant.chat.render import render_message, render_notice, render_partial, render_user
from assistant.errors import AssistantError, QuestionError
from assistant.pipeline import Assistant
from assistant.retrieval.retriever import Filters
from assistant.text.dates import date_range

EXTRACTIVE_MODE = "extractive (no LLM)"


# ---- the filter boxes --------------------------------------------------------------------------------
def parse_date_range(since: str | None, until: str | None) -> tuple[str, str]:
    """The (since, until) ISO dates of the filter boxes, read as `assistant ask --since/--until` reads them."""
    return date_range(since, until, ("'published since'", "'published until'"))


def make_filters(sources: list[str] | str | None, since: str | None, until: str | None) -> Filters:
    first, last = parse_date_range(since, until)
    chosen = [sources] if isinstance(sources, str) else list(sources or [])
    return Filters(sources=[s for s in chosen if s], since=first, until=last)


# ---- the answer ----------------------------------------------------------------------------------------
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
    """Yields (messages, question box, standalone-question history) as the answer streams.

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
