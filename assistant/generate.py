"""LLM-written answers: fenced numbered passages in, streamed tokens out, every sentence checked before it counts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
from llama_index.core.llms import LLM

from assistant.answer import (
    ABSTAIN_ANSWER,
    INSTRUCTION_LIKE,
    Answer,
    AnswerSentence,
    ExtractiveAnswerer,
    abstain,
    make_citation,
)
from assistant.embedding import Embedder
from assistant.errors import LLMError
from assistant.llm import complete_text, stream_answer
from assistant.passages import passage_header
from assistant.prompting import fence, format_passages, render_messages
from assistant.retrieval import Hit
from assistant.support import check_support


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
        """Yields text deltas as the model writes, then the checked Answer (or the extractive fallback)."""
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
        try:
            for delta in stream_answer(self.llm, messages):
                if first_token is None:
                    first_token = time.perf_counter() - started
                text += delta
                yield delta
        except LLMError as exc:
            yield self._fallback(question, hits, f"the LLM failed: {exc}; the extractive answer is shown instead")
            return
        answer = self.check(question, text, hits, speaker)
        if first_token is not None:
            answer.timings_ms["first_token"] = first_token * 1000
        yield answer

    def check(self, question: str, text: str, hits: list[Hit], speaker: str | None = None) -> Answer:
        """Turn the model's raw text into an Answer: invalid markers dropped, each sentence support-checked."""
        if ABSTAIN_ANSWER.lower().rstrip(".") in text.lower() and len(text) < 2 * len(ABSTAIN_ANSWER):
            answer = abstain(question)
            answer.mode, answer.retrieved = "llm", hits
            return answer
        passages = [llm_passage(h) for h in hits]
        checks = check_support(text, passages, self.embedder.embed, speaker, self.min_similarity)
        # A model that obeyed a planted instruction must not pass it on: such sentences are not shown at all.
        checks = [c for c in checks if not INSTRUCTION_LIKE.search(c.text)]
        if not any(c.supported and c.citations for c in checks):
            return self._fallback(
                question, hits, "the LLM's answer was not supported by the passages; the extractive answer is shown"
            )
        cited = sorted({n for c in checks for n in c.citations})
        citations = []
        for n in cited:
            hit = hits[n - 1]
            start, end = self._best_sentence(hit, [c.text for c in checks if n in c.citations])
            citations.append(make_citation(n, hit, start, end))
        sentences = [AnswerSentence(c.text, c.citations, c.supported, c.reason) for c in checks]
        body = " ".join(s.text + "".join(f" [{n}]" for n in s.citations) for s in sentences)
        answer = Answer(question, body, False, citations, sentences, mode="llm", retrieved=hits)
        unsupported = sum(1 for s in sentences if not s.supported)
        if unsupported:
            answer.notes.append(f"{unsupported} sentence(s) are not supported by the cited passages (marked)")
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
