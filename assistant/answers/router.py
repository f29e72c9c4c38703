"""Question routing: a follow-up made standalone, then the speaker, extractive or LLM answerer, streamed.

question ─ validate ─ follow-up? (LLM condenses, else rules) ─┐
┌──────────────────────────────────────────────────────────────┘
├ no article passes the filters ─────────────── abstain, with a note
├ "What did X say about Y?" and X is quoted ─── SpeakerAnswerer: X's statements only
├ no LLM configured (the default) ───────────── ExtractiveAnswerer over the retrieved passages
└ LLM ───────────────────────────────────────── LLMAnswerer: every sentence checked (support.py) before it is
                                                shown; the extractive answer when none is supported
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from assistant.answers.extractive import ExtractiveAnswerer
from assistant.answers.followup import rewrite_followup
from assistant.answers.speaker import SpeakerAnswerer
from assistant.answers.types import Answer, StreamEvent, abstain
from assistant.embedding import Embedder
from assistant.errors import AssistantError, LLMError, QuestionError
from assistant.ingest import clean_text
from assistant.quotes import asks_for_own_words
from assistant.retrieval.retriever import Filters, Retriever
from assistant.settings import Settings
from assistant.text.dates import day_number

_MONTH_DAYS = 31  # a collection spanning more than this gets the note that an undated question searched all dates

if TYPE_CHECKING:  # llama-index is imported only when an LLM is configured
    from llama_index.core.llms import LLM


def validate_question(question: str, max_chars: int) -> str:
    """The question stripped and cleaned of unpaired surrogates; QuestionError when empty or too long."""
    question = (question or "").encode("utf-8", errors="replace").decode("utf-8")
    question, _ = clean_text(question)  # invisible characters alone are not a question
    if not question:
        raise QuestionError("Please type a question.")
    if len(question) > max_chars:
        raise QuestionError(f"The question is too long ({len(question)} characters; the limit is {max_chars}).")
    return question


class Router:
    """Answers questions from a retriever; loads the configured LLM once, on the first question that uses it."""

    def __init__(self, settings: Settings, embedder: Callable[[], Embedder], retriever: Callable[[], Retriever]):
        self.settings = settings
        self._embedder = embedder
        self._retriever = retriever  # called per question: the index may have been reloaded since
        self.llm: LLM | None = None

    @property
    def embedder(self) -> Embedder:
        return self._embedder()

    def load_llm(self, notes: list[str]) -> LLM | None:
        """The configured LLM (llama-index interface), or None for extractive answers or when it cannot load
        (the reason is added to notes, so the answer says why it is extractive)."""
        if self.llm is None and self.settings.llm.backend != "none":
            from assistant.answers.llm import make_llm

            try:
                self.llm = make_llm(self.settings.llm)
            except LLMError as exc:
                notes.append(f"the LLM is not available: {exc}; the extractive answer is shown instead")
        return self.llm

    def standalone_question(self, question: str, history: list[str], llm: LLM | None, notes: list[str]) -> str:
        """The follow-up as a standalone question: the LLM condenses it when configured, else the rules."""
        if not history:
            return question
        if llm is not None:
            from assistant.answers.generate import condense_question

            try:
                return condense_question(llm, question, history)
            except LLMError as exc:
                notes.append(f"follow-up rewritten by rules: {exc}")
        return rewrite_followup(question, history)

    def stream(
        self,
        question: str,
        history: list[str] | None = None,
        filters: Filters | None = None,
        k: int | None = None,
        use_llm: bool = True,
    ) -> Iterator[StreamEvent]:
        """The answer as events: text as it is written (LLM sentences once checked, or extractive sentences), then
        a last event carrying the whole Answer."""
        started = time.perf_counter()
        question = validate_question(question, self.settings.answer.max_question_chars)
        notes: list[str] = []
        llm = self.load_llm(notes) if use_llm else None
        standalone = self.standalone_question(question, history or [], llm, notes)
        retriever = self._retriever()
        if not retriever.store.passages:
            raise AssistantError(f"the index in {self.settings.index.dir} is empty: run 'assistant ingest PATH' first")
        retrieved = started
        unquoted = ""  # a speaker asked about whom no statement fits: the articles' own sentences may answer
        # No article passes the filters: say so, rather than "no statement by X" or a bare abstention.
        if filters is not None and not retriever.allows_any(filters):
            notes.append(f"no article matches the filters ({filters.describe()})")
            answer = abstain(standalone)
            yield from _events(answer)
        else:
            speakers = SpeakerAnswerer(
                retriever.store, self.embedder, retriever.idf, self.settings.answer.max_sentences
            )
            attributed = speakers.find(standalone, filters)
            if attributed is not None and not attributed[1] and not asks_for_own_words(standalone, attributed[0]):
                unquoted, attributed = attributed[0], None
            if attributed is None:
                speaker, hits = None, retriever.retrieve(standalone, k=k, filters=filters)
                notes += _time_frame_notes(retriever, standalone, filters)
            else:  # "What did X say about Y?": only X's statements may answer
                speaker, found = attributed
                hits = [s.as_hit() for s in found[: k or self.settings.retrieval.top_k]]
            retrieved = time.perf_counter()
            extractive = ExtractiveAnswerer(
                self.embedder, retriever.idf, self.settings.answer.max_sentences, self.settings.answer.min_support
            )
            if llm is None or (speaker and not hits):
                answer = speakers.answer(standalone, speaker, found) if speaker else extractive.answer(standalone, hits)
                yield from _events(answer)
            else:
                from assistant.answers.generate import LLMAnswerer

                answerer = LLMAnswerer(llm, self.embedder, extractive, self.settings.answer.min_similarity)
                for piece in answerer.stream(standalone, hits, speaker=speaker):
                    if isinstance(piece, str):  # LLMAnswerer yields checked text, then its Answer
                        yield StreamEvent(delta=piece)
                    else:
                        answer = piece
        if unquoted:
            notes.append(
                f"no statement by {unquoted} on this in the articles"
                + ("" if answer.abstained else "; the answer quotes the articles' own sentences")
            )
        done = time.perf_counter()
        answer.question = question
        answer.standalone_question = standalone
        answer.notes = notes + answer.notes
        answer.timings_ms = {
            **answer.timings_ms,
            "retrieve": (retrieved - started) * 1000,
            "answer": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        yield StreamEvent(answer=answer)


def _time_frame_notes(retriever: Retriever, question: str, filters: Filters | None) -> list[str]:
    """Say which dates a question was read as naming, so a misreading ("in May" of the wrong year) is visible."""
    as_of = filters.as_of if filters is not None else ""
    frame = retriever.time_frame(question, as_of)
    if frame is None and not as_of:
        # Measured: no preference works better than a guessed one for an undated question (evals/log/2026-12.md).
        first, last = retriever.published_span
        if first and day_number(last) - day_number(first) > _MONTH_DAYS:
            return [f"the question names no time: articles of every date ({first} to {last}) were ranked alike"]
        return []
    if frame is None or not frame.phrase:
        return []
    if not retriever.published_within(frame).any():
        return [f"no article in the index was published {frame.describe()}; all dates were searched alike"]
    return [f"articles published {frame.describe()} ranked first"]


def _events(answer: Answer) -> Iterator[StreamEvent]:
    """A finished answer's text as a stream shows it: one cited sentence at a time."""
    if not answer.sentences:
        yield StreamEvent(delta=answer.answer)
        return
    for i, sentence in enumerate(answer.sentences):
        markers = "".join(f" [{n}]" for n in sentence.citations)
        yield StreamEvent(delta=("" if i == 0 else " ") + sentence.text + markers)
