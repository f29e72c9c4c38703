"""LLM-written answers: fenced numbered passages in, streamed tokens out, every sentence checked before it counts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
from llama_index.core.llms import LLM

from assistant.answers.extractive import INSTRUCTION_LIKE, ExtractiveAnswerer
from assistant.answers.llm import complete_text, stream_answer
from assistant.answers.prompting import fence, format_passages, render_messages
from assistant.answers.support import SentenceCheck, check_support, split_cited_sentences
from assistant.answers.types import ABSTAIN_ANSWER, Answer, AnswerSentence, abstain, make_citation
from assistant.embedding.encoder import Embedder
from assistant.errors import LLMError
from assistant.ingest.passages import passage_header
from assistant.retrieval.retriever import Hit


def llm_passage(hit: Hit) -> str:
    """A passage as the LLM (and the support check) sees it: title and date, the speaker if known, the text.

    Sentences that read like instructions to a model are left out: the fence already tells the model that
    passages are data, and this keeps a planted instruction from being read at all, or used as support.
    """
    said_by = f"Statement by {hit.speaker}: " if hit.speaker else ""
    text = hit.article.text
    kept = [text[s:e] for s, e in hit.passage.sentences if not INSTRUCTION_LIKE.search(text[s:e])]
    body = " ".join(kept) if hit.passage.sentences else hit.passage.text
    return f"{passage_header(hit.article)}\n{said_by}{body}"


def condense_question(llm: LLM, question: str, history: list[str]) -> str:
    """The follow-up rewritten by the LLM into a standalone question (raises LLMError on failure)."""
    fenced, boundary = fence("\n".join(f"- {q}" for q in history))
    reply = complete_text(llm, render_messages("condense", history=fenced, boundary=boundary, question=question))
    reply = reply.strip().strip('"“”').splitlines()[0].strip() if reply.strip() else ""
    if not reply or len(reply) > 400:
        raise LLMError("the LLM gave no usable standalone question")
    return reply


class LLMAnswerer:
    """Streams an LLM's answer over the retrieved passages, then keeps only what the passages support."""

    def __init__(self, llm: LLM, embedder: Embedder, fallback: ExtractiveAnswerer, min_similarity: float = 0.55):
        self.llm = llm
        self.embedder = embedder
        self.fallback = fallback
        self.min_similarity = min_similarity

    def stream(self, question: str, hits: list[Hit], speaker: str | None = None) -> Iterator[str | Answer]:
        """Yields the model's sentences as they are written, each only once checked and supported, then the Answer.

        Nothing unchecked is shown: a sentence counts as written once the next one has begun (its [n] markers
        may follow its full stop), and the rest is checked when the model stops.
        """
        if not hits:
            answer = abstain(question)
            yield answer.answer
            yield answer
            return
        passages = [llm_passage(h) for h in hits]
        fenced, boundary = fence(format_passages(passages))
        messages = render_messages(
            "answer", passages=fenced, boundary=boundary, question=question, abstain=ABSTAIN_ANSWER
        )
        text, started, first_token = "", time.perf_counter(), None
        shown, pieces = 0, []  # sentences checked so far; the supported ones yielded
        try:
            for delta in stream_answer(self.llm, messages):
                if first_token is None:
                    first_token = time.perf_counter() - started
                text += delta
                written = len(split_cited_sentences(text, len(hits))) - 1  # the last one may still grow
                if written > shown:
                    checks = self._checks(text, passages, speaker)[:written]
                    new = list(_pieces(checks[shown:], first=not pieces))
                    pieces += new
                    yield from new
                    shown = len(checks)
        except LLMError as exc:
            yield self._fallback(question, hits, f"the LLM failed: {exc}; the extractive answer is shown instead")
            return
        answer = self.check(question, text, hits, speaker)
        if answer.mode == "llm":  # the sentences not streamed yet (a fallback or abstention is rendered whole)
            yield from _pieces(self._checks(text, passages, speaker)[shown:], first=not pieces)
        if first_token is not None:
            answer.timings_ms["first_token"] = first_token * 1000
        yield answer

    def _checks(self, text: str, passages: list[str], speaker: str | None) -> list[SentenceCheck]:
        """Every sentence of the model's text, checked; one that reads like an instruction is never supported."""
        checks = check_support(text, passages, self.embedder.embed, speaker, self.min_similarity)
        for c in checks:
            if c.supported and INSTRUCTION_LIKE.search(c.text):
                c.supported, c.reason = False, "reads like an instruction to a model"
        return checks

    def check(self, question: str, text: str, hits: list[Hit], speaker: str | None = None) -> Answer:
        """Turn the model's raw text into an Answer of its supported sentences only, with their citations.

        A sentence the cited passages do not support is left out, not shown with a warning: it may be what a
        planted instruction made the model write. When no sentence is supported, the extractive answer is given.
        """
        if ABSTAIN_ANSWER.lower().rstrip(".") in text.lower() and len(text) < 2 * len(ABSTAIN_ANSWER):
            answer = abstain(question)
            answer.mode, answer.retrieved = "llm", hits
            return answer
        checks = self._checks(text, [llm_passage(h) for h in hits], speaker)
        kept = [c for c in checks if c.supported and c.citations]
        if not kept:
            return self._fallback(
                question, hits, "the LLM's answer was not supported by the passages; the extractive answer is shown"
            )
        cited = sorted({n for c in kept for n in c.citations})
        citations = []
        for n in cited:
            hit = hits[n - 1]
            start, end = self._best_sentence(hit, [c.text for c in kept if n in c.citations])
            citations.append(make_citation(n, hit, start, end))
        sentences = [AnswerSentence(c.text, c.citations) for c in kept]
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


def _pieces(checks: list[SentenceCheck], first: bool) -> Iterator[str]:
    """The supported sentences as shown, each with its [n] markers, joined by spaces (none before the first)."""
    for c in checks:
        if c.supported and c.citations:
            yield ("" if first else " ") + c.text + "".join(f" [{n}]" for n in c.citations)
            first = False
