"""The default extractive answerer: picks the sentences of retrieved passages that answer.

How the extractive answerer decides (no LLM):
  1. every sentence of the retrieved passages is a candidate (headings and fragments are not);
  2. its support score = 0.5 x cosine similarity of sentence and question (the embedder)
                       + 0.5 x weighted coverage: the share of the question's distinctive words (stemmed,
                         weighted by BM25 idf, so rare words count most) found in the sentence, or at half
                         weight in the sentences just before it (a "he said" sentence names its speaker earlier);
  3. a question asking "how many/much/long…" only accepts sentences with a number, and "when/since when/what day"
     only sentences with a time expression; "where", "who", "why" prefer sentences with a place, a name, a reason;
  4. if the best score is below `answer.min_support`, it answers ABSTAIN_ANSWER and cites nothing (when only the
     kind of answer was missing, a note gives the closest sentence the articles do have, with its source);
  5. otherwise it answers with the best sentence and up to `answer.max_sentences - 1` more whose score is
     close to the best, each followed by its own [n] marker; citation n quotes that sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answers.chronology import dated, with_prefix
from assistant.answers.relevance import relevance
from assistant.answers.types import Answer, AnswerSentence, abstain, make_citation
from assistant.embedding import Embedder
from assistant.retrieval.retriever import Hit
from assistant.text.vocabulary import CALENDAR_WORDS

_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|"
    r"thousands?|millions?|billions?|dozens?|several|many|few)\b",
    re.IGNORECASE,
)
TIME_WORDS = re.compile(
    rf"\d{{4}}|\b({'|'.join(sorted(CALENDAR_WORDS))}|yesterday|today|tonight|tomorrow|week|weeks|month|months|"
    r"year|years|days?|morning|evening|night|earlier|later|since|ago|recently)\b",
    re.IGNORECASE,
)
_PLACE = re.compile(r"\b(?:in|at|near|from|outside|across|to)\s+(?:the\s+)?[A-Z][\w’'-]+")
_NAME = re.compile(r"\b[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)+")
_REASON = re.compile(
    r"\b(because|due to|as a result|amid|so that|in order to|reasons?|caused|blamed|after|following|since)\b",
    re.IGNORECASE,
)
# What a question asks for, by its first words: (kind, the test a sentence must pass to carry it, whether a
# sentence without it may still answer). A number or a date is checkable; a place, a person or a reason is
# only preferred, since the regular expressions that find them miss many.
_ANSWER_TYPES = (
    ("a number", re.compile(r"^\s*how (many|much|long|far|high|big|large|old|often)\b", re.IGNORECASE), False),
    ("a date", re.compile(r"^\s*(when|since when|what (day|date|year|month|time))\b", re.IGNORECASE), False),
    ("a place", re.compile(r"^\s*(where|in which (country|city|town|place))\b", re.IGNORECASE), True),
    ("a name", re.compile(r"^\s*(who|whom|which (company|country|team|person|party|group))\b", re.IGNORECASE), True),
    ("a reason", re.compile(r"^\s*why\b", re.IGNORECASE), True),
)
_TESTS = {"a number": _NUMBER.search, "a date": TIME_WORDS.search, "a place": _PLACE.search, "a reason": _REASON.search}
_PREFERENCE = 0.05  # how much a sentence carrying a preferred kind of answer gains in the ranking (not in support)


def answer_type(question: str) -> tuple[str, bool] | None:
    """What the question asks for ("a number", "a date", "a place", "a name", "a reason") and whether a sentence
    without it may answer; None for other questions."""
    for kind, pattern, optional in _ANSWER_TYPES:
        if pattern.search(question):
            return kind, optional
    return None


def carries(kind: str, question: str, text: str) -> bool:
    """True when the sentence holds the kind of answer asked for (a name: one the question does not name)."""
    if kind == "a name":
        return any(m.group() not in question for m in _NAME.finditer(text, 1))
    return bool(_TESTS[kind](text))


# A wire dateline opening a paragraph: "CALDERWICK, March 15 (Meridian Wire) – ", "MOSCOW (Reuters) - ".
_DATELINE = re.compile(r"^[A-Z][A-Z .’'-]+,?(?:\s+[A-Z][a-z]+\.?\s+\d{1,2})?\s*(?:\([^)]{1,40}\))?\s*[–—-]+\s*")


def readable_span(text: str, start: int, end: int, limit: int) -> tuple[int, int]:
    """A sentence's span as an answer quotes it: without a wire dateline in front, and running on to the closing
    mark of a quotation it opens (up to `limit`, the passage's end), so a quote is never cut after its first
    sentence."""
    m = _DATELINE.match(text, start, end)
    if m and end - m.end() > 20:
        start = m.end()
    piece = text[start:end]
    if piece.count("“") > piece.count("”"):
        close = text.find("”", end, min(limit, end + 400))
        if close != -1:
            end = close + 1
    return start, end


@dataclass
class _Candidate:
    hit: Hit
    start: int
    end: int
    text: str
    score: float = 0.0  # support (see the module docstring)
    rank_bonus: float = 0.0  # ranking only: the sentence carries the kind of answer asked for


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
                start, end = readable_span(hit.article.text, start, end, hit.passage.end)
                found.append(_Candidate(hit, start, end, hit.article.text[start:end]))
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
        self.score(question, candidates)
        wanted = answer_type(question)
        closest = max(candidates, key=lambda c: c.score, default=None)
        missing = ""
        if wanted:
            kind, optional = wanted
            typed = [c for c in candidates if carries(kind, question, c.text)]
            if optional:
                for c in typed:
                    c.rank_bonus = _PREFERENCE
            else:
                supported = [c for c in candidates if c.score >= self.min_support]
                if supported and not any(c.score >= self.min_support for c in typed):
                    missing = kind
                candidates = typed
        ranked = sorted(candidates, key=lambda c: -(c.score + c.rank_bonus))
        support = max((c.score for c in ranked), default=0.0)
        if not ranked or support < self.min_support:
            result = abstain(question)
            result.retrieved, result.support = hits, support
            if missing and closest is not None:
                a = closest.hit.article
                source = ", ".join(x for x in (a.title, a.published) if x)
                result.notes.append(
                    f"the articles don't state {missing}; the closest they say ({source}): {closest.text}"
                )
            return result
        ranked = [c for c in ranked if c.score >= self.min_support]
        chosen = [ranked[0]]
        floor = max(self.min_support, ranked[0].score - 0.15)
        for cand in ranked[1:]:
            if len(chosen) >= self.max_sentences or cand.score < floor:
                break
            if not any(_overlap(cand.text, c.text) > 0.6 for c in chosen):
                chosen.append(cand)
        citations, sentences, parts = [], [], []
        names_time = bool(TIME_WORDS.search(question))
        for n, (cand, prefix) in enumerate(dated(chosen, lambda c: c.hit.article.published, names_time), 1):
            citations.append(make_citation(n, cand.hit, cand.start, cand.end))
            text = with_prefix(prefix, cand.text)
            sentences.append(AnswerSentence(text, [n]))
            parts.append(f"{text} [{n}]")
        return Answer(question, " ".join(parts), False, citations, sentences, retrieved=hits, support=support)


def _overlap(a: str, b: str) -> float:
    """Share of the smaller sentence's words also in the other (near-duplicate wire copies)."""
    wa, wb = set(a.lower().split()), set(b.lower().split())
    return len(wa & wb) / max(1, min(len(wa), len(wb)))
