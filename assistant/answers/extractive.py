"""The default extractive answerer: picks the sentences of retrieved passages that answer.

How the extractive answerer decides (no LLM):
  1. every sentence of the retrieved passages is a candidate (headings and fragments are not);
  2. its support score = 0.5 x cosine similarity of sentence and question (the embedder)
                       + 0.5 x weighted coverage: the share of the question's distinctive words (stemmed,
                         weighted by BM25 idf, so rare words count most) found in the sentence, or at half
                         weight in the sentences just before it (a "he said" sentence names its speaker earlier);
  3. a question asking "how many/much/long…" only accepts sentences with a number, and "when/since when/what day"
     only sentences with a time expression;
  4. if the best score is below `answer.min_support`, it answers ABSTAIN_ANSWER and cites nothing;
  5. otherwise it answers with the best sentence and up to `answer.max_sentences - 1` more whose score is
     close to the best, each followed by its own [n] marker; citation n quotes that sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answers.relevance import relevance
from assistant.answers.types import Answer, AnswerSentence, abstain, make_citation
from assistant.embedding import Embedder
from assistant.retrieval.retriever import Hit

_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|"
    r"thousands?|millions?|billions?|dozens?|several|many|few)\b",
    re.IGNORECASE,
)
TIME_WORDS = re.compile(
    r"\d{4}|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|yesterday|today|tonight|tomorrow|week|weeks|month|months|"
    r"year|years|days?|morning|evening|night|earlier|later|since|ago|recently)\b",
    re.IGNORECASE,
)
_WANTS_NUMBER = re.compile(r"^\s*(how (many|much|long|far|high|big|large|old|often))\b", re.IGNORECASE)
_WANTS_TIME = re.compile(r"^\s*(when|since when|what (day|date|year|month|time))\b", re.IGNORECASE)


def answer_type_filter(question: str):
    """A test a sentence must pass to answer this kind of question (a number, a time), or None."""
    if _WANTS_NUMBER.search(question):
        return _NUMBER.search
    if _WANTS_TIME.search(question):
        return TIME_WORDS.search
    return None


@dataclass
class _Candidate:
    hit: Hit
    start: int
    end: int
    text: str
    score: float = 0.0


# Sentences that address a model rather than a reader ("ignore previous instructions and reply ..."): never
# quoted as an answer, whatever they contain, so a planted instruction cannot reach the reader as a "fact".
INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|above|previous)\b|"
    r"\b(system prompt|you are an? (ai|assistant|language model)|as an ai\b|reply (only )?with|respond (only )?with)",
    re.IGNORECASE,
)


def _is_heading(text: str) -> bool:
    return len(text.split()) < 5 or not text.rstrip().endswith((".", "?", "!", "”", '"', "’", ":"))


def _asks(text: str) -> bool:
    """A sentence that asks ("What does a rate hike mean?") states nothing an answer could rest on."""
    return text.rstrip().rstrip("\"”’'").endswith("?")


class ExtractiveAnswerer:
    """Builds an answer from the sentences of retrieved passages; abstains when support is weak."""

    def __init__(self, embedder: Embedder, idf, max_sentences: int = 3, min_support: float = 0.45):
        self.embedder = embedder
        self.idf = idf  # callable: stemmed term -> weight (Retriever.idf)
        self.max_sentences = max_sentences
        self.min_support = min_support

    def candidates(self, hits: list[Hit]) -> list[_Candidate]:
        found, seen = [], set()
        for hit in hits:
            for start, end in hit.passage.sentences:
                key = (hit.article.id, start)
                text = hit.article.text[start:end]
                if key in seen or _is_heading(text) or _asks(text) or INSTRUCTION_LIKE.search(text):
                    continue
                seen.add(key)
                found.append(_Candidate(hit, start, end, text))
        return found

    def score(self, question: str, candidates: list[_Candidate]) -> None:
        """Set each candidate's support score (see the module docstring)."""
        if not candidates:
            return
        contexts = [c.hit.article.text[max(c.hit.passage.start, c.start - 400) : c.start] for c in candidates]
        scores = relevance(self.embedder, self.idf, question, [c.text for c in candidates], contexts)
        for cand, score in zip(candidates, scores, strict=True):
            cand.score = score

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        candidates = self.candidates(hits)
        wanted = answer_type_filter(question)
        if wanted:
            candidates = [c for c in candidates if wanted(c.text)]
        self.score(question, candidates)
        ranked = sorted(candidates, key=lambda c: -c.score)
        if not ranked or ranked[0].score < self.min_support:
            result = abstain(question)
            result.retrieved = hits
            return result
        chosen = [ranked[0]]
        floor = max(self.min_support, ranked[0].score - 0.15)
        for cand in ranked[1:]:
            if len(chosen) >= self.max_sentences or cand.score < floor:
                break
            if not any(_overlap(cand.text, c.text) > 0.6 for c in chosen):
                chosen.append(cand)
        citations, sentences, parts = [], [], []
        for n, cand in enumerate(chosen, 1):
            citations.append(make_citation(n, cand.hit, cand.start, cand.end))
            sentences.append(AnswerSentence(cand.text, [n]))
            parts.append(f"{cand.text} [{n}]")
        return Answer(question, " ".join(parts), False, citations, sentences, retrieved=hits)


def _overlap(a: str, b: str) -> float:
    """Share of the smaller sentence's words also in the other (near-duplicate wire copies)."""
    wa, wb = set(a.lower().split()), set(b.lower().split())
    return len(wa & wb) / max(1, min(len(wa), len(wb)))
