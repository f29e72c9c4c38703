"""Search terms: lower-cased, stemmed words without stop words or question words, for BM25 and word overlap."""

from __future__ import annotations

import re
from functools import cache

# Question words and filler carry no topic; bm25s' English stop-word
# list keeps them, so BM25 would reward any passage with "what".
QUESTION_WORDS = {
    "what", "who", "whom", "whose", "which", "when", "where", "why", "how", "did", "does", "do", "is", "are",
    "was", "were", "about", "say", "said", "tell", "told", "think", "many", "much", "has", "have", "the",
    "exactly", "actually", "really", "please", "me", "know",
}  # fmt: skip


@cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s' (and scikit-learn's) token pattern
_STEMS: dict[str, str | None] = {}  # word -> its stem; None for a stop word or a question word


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@cache
def _question_stems() -> frozenset[str]:
    return frozenset(_stemmer().stemWord(w) for w in QUESTION_WORDS)


def search_terms(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stemmed tokens without English stop words and question words.

    The same tokens as bm25s.tokenize(texts, stopwords="en", stemmer=PyStemmer english) minus the question words,
    without its per-call overhead (progress bars, a stop-word set per text) and stemming each word once: the
    answerer calls this for every candidate sentence, dozens of times per question.
    """
    stems = _STEMS
    if len(stems) > 500_000:
        stems.clear()
    out = []
    for text in texts:
        words = _TOKEN.findall(text.lower())
        new = [w for w in set(words) if w not in stems]
        if new:
            stop, question = _stopwords(), _question_stems()
            for word, stem in zip(new, _stemmer().stemWords(new), strict=True):
                stems[word] = None if (word in stop or stem in question) else stem
        out.append([t for t in (stems[w] for w in words) if t is not None])
    return out
