"""LLM-written answers: fenced numbered passages in, streamed tokens out, every sentence checked before it counts."""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Iterator, Sequence

import numpy as np
from llama_index.core.llms import LLM

from assistant.answers.extractive import INSTRUCTION_LIKE, ExtractiveAnswerer
from assistant.answers.llm import complete_text, stream_answer
from assistant.answers.prompting import fence, format_passages, render_messages
from assistant.answers.structured import StructuredReply, response_format
from assistant.answers.support import (
    SentenceCheck,
    check_sentences,
    check_support,
    split_cited_sentences,
    structured_sentences,
)
from assistant.answers.types import ABSTAIN_ANSWER, Answer, AnswerSentence, abstain, make_citation
from assistant.embedding import Embedder
from assistant.errors import LLMError
from assistant.ingest.passages import passage_header
from assistant.retrieval.retriever import Hit


def _passage_sentences(hit: Hit) -> list[str]:
    """The passage's sentences, without those that read like instructions to a model."""
    text = hit.article.text
    if not hit.passage.sentences:
        return [hit.passage.text]
    return [text[s:e] for s, e in hit.passage.sentences if not INSTRUCTION_LIKE.search(text[s:e])]


def llm_passage(hit: Hit, sentences: list[str] | None = None) -> str:
    """A passage as the LLM (and the support check) sees it: title and date, the speaker if known, the text
    (or the given subset of its sentences).

    Sentences that read like instructions to a model are left out: the fence already tells the model that
    passages are data, and this keeps a planted instruction from being read at all, or used as support.
    """
    said_by = f"Statement by {hit.speaker}: " if hit.speaker else ""
    body = " ".join(_passage_sentences(hit) if sentences is None else sentences)
    return f"{passage_header(hit.article)}\n{said_by}{body}"


def condense_question(llm: LLM, question: str, history: list[str]) -> str:
    """The follow-up rewritten by the LLM into a standalone question (raises LLMError on failure).

    A reply that copies the fence (its boundary or a BEGIN/END DATA line) or is not a question is refused, so the
    caller uses the rule-based rewrite: a small model often echoes the data instead of rewriting.
    """
    fenced, boundary = fence("\n".join(f"- {q}" for q in history))
    reply = complete_text(llm, render_messages("condense", history=fenced, boundary=boundary, question=question))
    lines = [line.strip().strip('"“”').strip() for line in reply.splitlines() if line.strip()]
    reply = re.sub(r"^(?:standalone question|question)\s*:\s*", "", lines[0], flags=re.I) if lines else ""
    if not reply or len(reply) > 400:
        raise LLMError("the LLM gave no usable standalone question")
    if boundary in reply or re.search(r"\b(?:BEGIN|END)\s+DATA\b", reply, re.I):
        raise LLMError("the LLM copied the fenced data instead of a standalone question")
    if not reply.endswith("?"):
        raise LLMError("the LLM's standalone question is not a question")
    return reply


# LLMs whose server refused the JSON schema: they get the "[n]" marker prompt from then on (said once, per model).
# Keyed by id() with a weak reference to check it (llama-index LLMs are pydantic models, not hashable).
_NO_SCHEMA: dict[int, weakref.ref] = {}


def _takes_schema(llm: LLM) -> bool:
    ref = _NO_SCHEMA.get(id(llm))
    return ref is None or ref() is not llm


def _refuses_schema(llm: LLM) -> None:
    _NO_SCHEMA[id(llm)] = weakref.ref(llm)


_SCHEMA_REFUSED = re.compile(r"response_format|json_schema|schema|grammar|HTTP 4(?:00|22)", re.IGNORECASE)
# Passages shown to the model: fewer than retrieved, since every passage costs prompt time (~100-200 tokens, seconds
# on a CPU); the retriever's best three hold the answer for most questions (the rest stay for the fallback).
MAX_MODEL_PASSAGES = 3
# Sentences of a passage the model reads: the ones closest to the question, in their order (a passage has 5-10).
# The support check still reads whole passages, so a speaker named in a sentence left out is still known there.
MAX_PROMPT_SENTENCES = 4


class LLMAnswerer:
    """Streams an LLM's answer over the retrieved passages, then keeps only what the passages support."""

    def __init__(
        self,
        llm: LLM,
        embedder: Embedder,
        fallback: ExtractiveAnswerer,
        min_similarity: float = 0.55,
        max_passages: int = MAX_MODEL_PASSAGES,
    ):
        self.llm = llm
        self.embedder = embedder
        self.fallback = fallback
        self.min_similarity = min_similarity
        self.max_passages = max_passages

    def model_hits(self, hits: list[Hit], speaker: str | None = None) -> list[Hit]:
        """The retrieved passages the model reads (the best ones; passage n of the prompt is hits[n - 1])."""
        return hits[: self.max_passages]

    def prompt_passages(self, question: str, hits: list[Hit]) -> list[str]:
        """The passages as the prompt shows them: each cut to its MAX_PROMPT_SENTENCES sentences most similar to
        the question, kept in order; every prompt token costs time before the first word on a CPU."""
        sentences = [_passage_sentences(h) for h in hits]
        long = [i for i, found in enumerate(sentences) if len(found) > MAX_PROMPT_SENTENCES]
        if long:
            pool = [s for i in long for s in sentences[i]]
            vectors = self.embedder.embed([question, *pool])
            similarity = vectors[1:] @ vectors[0]
            start = 0
            for i in long:
                scores = similarity[start : start + len(sentences[i])]
                start += len(sentences[i])
                keep = sorted(np.argsort(-scores)[:MAX_PROMPT_SENTENCES])
                sentences[i] = [sentences[i][k] for k in keep]
        return [llm_passage(h, found) for h, found in zip(hits, sentences, strict=True)]

    def stream(self, question: str, hits: list[Hit], speaker: str | None = None) -> Iterator[str | Answer]:
        """Yields the model's sentences as they are written, each only once checked and supported, then the Answer.

        The model is asked for a JSON answer (structured.py) where the backend can enforce a schema: a sentence is
        checked as soon as its object closes. A reply in the "[n]" marker format is read too: there a sentence
        counts as written once the next one has begun (its markers may follow its full stop). Nothing unchecked is
        shown, and a sentence is held back while most of the answer so far is unsupported (it would fall back).
        """
        if not hits:
            answer = abstain(question)
            yield answer.answer
            yield answer
            return
        shown_hits = self.model_hits(hits, speaker)
        passages = [llm_passage(h) for h in shown_hits]  # what the check reads: whole passages
        titles = [passage_header(h.article) for h in shown_hits]
        fenced, boundary = fence(format_passages(self.prompt_passages(question, shown_hits)))
        structured = _takes_schema(self.llm)
        notes: list[str] = []
        reply = StructuredReply()
        text, started, first_token = "", time.perf_counter(), None
        checks: list[SentenceCheck] = []  # every sentence checked so far
        marker_sentences = 0  # marker format: sentences checked so far
        shown = 0  # checks whose supported sentence has been yielded (or held back)
        try:
            for delta in self._generate(question, fenced, boundary, len(passages), structured, notes):
                if first_token is None:
                    first_token = time.perf_counter() - started
                text += delta
                completed = reply.feed(delta)
                if reply.is_json:
                    if completed:
                        checks += self._check(structured_sentences(completed, len(passages)), passages, speaker,
                                              titles, boundary)  # fmt: skip
                        _drop_repeats(checks)
                elif reply.is_json is False:
                    written = len(split_cited_sentences(text, len(passages))) - 1  # the last one may still grow
                    if written > marker_sentences:
                        checks = _drop_repeats(self._checks(text, passages, speaker, titles, boundary)[:written])
                        marker_sentences = written
                if checks and not _mostly_unsupported(checks) and shown < len(checks):
                    pieces = list(_pieces(checks[shown:], first=not any(c.supported for c in checks[:shown])))
                    shown = len(checks)
                    yield from pieces
        except LLMError as exc:
            answer = self._fallback(question, hits, f"the LLM failed: {exc}; the extractive answer is shown instead")
            answer.notes[:0] = notes
            yield answer
            return
        final = self._read(text, passages, speaker, titles, boundary)
        answer = self._answer(question, hits, final, speaker)
        if final and answer.mode == "llm":  # the sentences not streamed yet
            yield from _pieces(final[shown:], first=not any(c.supported for c in final[:shown]))
        answer.notes[:0] = notes
        if first_token is not None:
            answer.timings_ms["first_token"] = first_token * 1000
        yield answer

    def _generate(
        self, question: str, fenced: str, boundary: str, n_passages: int, structured: bool, notes: list[str]
    ) -> Iterator[str]:
        """The model's text deltas: a JSON answer when the backend takes the schema, else the marker prompt's.

        A server that refuses the schema before writing anything is asked again with the marker prompt, and
        this LLM is not sent a schema again.
        """
        if structured:
            messages = render_messages("answer", passages=fenced, boundary=boundary, question=question)
            written = False
            try:
                for delta in stream_answer(self.llm, messages, response_format=response_format(n_passages)):
                    written = True
                    yield delta
                return
            except LLMError as exc:
                if written or not _SCHEMA_REFUSED.search(str(exc)):
                    raise
                _refuses_schema(self.llm)
                notes.append(f"the LLM server refused the JSON schema ({exc}); answers use [n] markers from now on")
        messages = render_messages(
            "answer_markers", passages=fenced, boundary=boundary, question=question, abstain=ABSTAIN_ANSWER
        )
        yield from stream_answer(self.llm, messages)

    def _check(
        self,
        split: Sequence[tuple[str, list[int], bool]],
        passages: list[str],
        speaker: str | None,
        titles: Sequence[str],
        boundary: str,
    ) -> list[SentenceCheck]:
        """Sentences checked against their passages; one that reads like an instruction is never supported."""
        checks = check_sentences(split, passages, self.embedder.embed, speaker, self.min_similarity, titles, boundary)
        return _refuse_instructions(checks)

    def _checks(
        self, text: str, passages: list[str], speaker: str | None, titles: Sequence[str] = (), boundary: str = ""
    ) -> list[SentenceCheck]:
        """Every sentence of a reply in the marker format, checked."""
        checks = check_support(text, passages, self.embedder.embed, speaker, self.min_similarity, titles, boundary)
        return _refuse_instructions(checks)

    def _read(
        self, text: str, passages: list[str], speaker: str | None, titles: Sequence[str] = (), boundary: str = ""
    ) -> list[SentenceCheck] | None:
        """Every sentence of the model's whole reply, checked, read as JSON or as marker text; None for an
        abstention (the JSON answer's empty list, or the abstention sentence)."""
        reply = StructuredReply()
        reply.feed(text)
        if reply.is_json:
            if reply.abstained or any(_is_abstention(t) for t, _ in reply.sentences):
                return None
            split = structured_sentences(reply.sentences, len(passages))
            return _drop_repeats(self._check(split, passages, speaker, titles, boundary))
        if _is_abstention(text):
            return None
        return _drop_repeats(self._checks(text, passages, speaker, titles, boundary))

    def check_reply(self, text: str, hits: list[Hit], speaker: str | None = None) -> list[SentenceCheck]:
        """The support check of every sentence of a reply to these hits ([] for an abstention), as stream() did it."""
        shown_hits = self.model_hits(hits, speaker)
        passages = [llm_passage(h) for h in shown_hits]
        titles = [passage_header(h.article) for h in shown_hits]
        return self._read(text, passages, speaker, titles) or []

    def check(self, question: str, text: str, hits: list[Hit], speaker: str | None = None) -> Answer:
        """Turn the model's raw text (JSON or marker format) into an Answer of its supported sentences only."""
        shown_hits = self.model_hits(hits, speaker)
        passages = [llm_passage(h) for h in shown_hits]
        titles = [passage_header(h.article) for h in shown_hits]
        return self._answer(question, hits, self._read(text, passages, speaker, titles), speaker)

    def _answer(
        self, question: str, hits: list[Hit], checks: list[SentenceCheck] | None, speaker: str | None = None
    ) -> Answer:
        """An Answer of the supported sentences only, with their citations.

        A sentence the cited passages do not support is left out, not shown with a warning: it may be what a
        planted instruction made the model write. When most sentences are unsupported (an answer mostly made up or
        copied from the prompt), or none is supported, the extractive answer is given.
        """
        if checks is None:
            answer = abstain(question)
            answer.mode, answer.retrieved = "llm", hits
            return answer
        kept = [c for c in checks if c.supported and c.citations]
        if not kept or _mostly_unsupported(checks):
            return self._fallback(
                question,
                hits,
                "the LLM's answer was not supported by the passages; the extractive answer is shown"
                if not kept
                else f"most of the LLM's answer ({len(checks) - len(kept)} of {len(checks)} sentences) was not "
                "supported by the passages; the extractive answer is shown",
            )
        cited = sorted({n for c in kept for n in c.citations})
        citations = []
        for n in cited:
            hit = hits[n - 1]
            start, end = self._best_sentence(hit, [c.text for c in kept if n in c.citations])
            citations.append(make_citation(n, hit, start, end))
        sentences = [AnswerSentence(c.text, c.citations, supported=True) for c in kept]
        body = "".join(_pieces(kept, first=True))
        answer = Answer(question, body, False, citations, sentences, mode="llm", retrieved=hits)
        if len(kept) < len(checks):
            left_out = len(checks) - len(kept)
            answer.notes.append(
                f"{left_out} sentence(s) of the LLM's answer left out: the cited passages do not support them"
            )
        return answer

    def _best_sentence(self, hit: Hit, claims: list[str]) -> tuple[int, int]:
        """Article offsets of the passage sentence closest to the answer sentences that cite this passage."""
        spans = hit.passage.sentences or [(hit.passage.start, hit.passage.end)]
        vectors = self.embedder.embed(claims + [hit.article.text[s:e] for s, e in spans])
        similarity = vectors[len(claims) :] @ vectors[: len(claims)].T
        return spans[int(np.argmax(similarity.max(axis=1)))]

    def _fallback(self, question: str, hits: list[Hit], note: str) -> Answer:
        answer = self.fallback.answer(question, hits)
        answer.notes.append(note)
        answer.mode = "extractive-fallback"
        return answer


def _is_abstention(text: str) -> bool:
    """The model's reply is the abstention sentence (possibly with a little around it)."""
    return ABSTAIN_ANSWER.lower().rstrip(".") in text.lower() and len(text) < 2 * len(ABSTAIN_ANSWER)


def _drop_repeats(checks: list[SentenceCheck]) -> list[SentenceCheck]:
    """Mark a sentence that repeats an earlier one word for word as not to be shown (a small model's loop); such
    repeats count as unsupported, so an answer that mostly loops falls back. Returns checks (changed in place)."""
    seen: set[str] = set()
    for c in checks:
        key = " ".join(re.findall(r"\w+", c.text.lower()))
        if key in seen and c.supported:
            c.supported, c.reason = False, "repeats an earlier sentence"
        seen.add(key)
    return checks


def _mostly_unsupported(checks: list[SentenceCheck]) -> bool:
    """More than half of the sentences are unsupported: the answer falls back (a lone good line is not enough)."""
    supported = sum(1 for c in checks if c.supported and c.citations)
    return 2 * supported < len(checks)


def _pieces(checks: list[SentenceCheck], first: bool) -> Iterator[str]:
    """The supported sentences as shown, each with its [n] markers, joined by spaces (none before the first)."""
    for c in checks:
        if c.supported and c.citations:
            yield ("" if first else " ") + c.text + "".join(f" [{n}]" for n in c.citations)
            first = False


def _refuse_instructions(checks: list[SentenceCheck]) -> list[SentenceCheck]:
    """A sentence that reads like an instruction to a model is never supported, whatever the passages say."""
    for c in checks:
        if c.supported and INSTRUCTION_LIKE.search(c.text):
            c.supported, c.reason = False, "reads like an instruction to a model"
    return checks
