"""Deterministic metric primitives: phrase matching, ranks, abstention, percentiles, multiple choice."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

# Curly quotes and apostrophes compare equal to straight ones; one character for one, so offsets survive.
_QUOTE_MAP = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "`": "'"})
_SURROUNDING_QUOTES = "\"'“”‘’„«»` \t\n"


def normalize_quotes(text: str) -> str:
    """Text with typographic quotes made straight (same length, so match offsets index the original)."""
    return text.translate(_QUOTE_MAP)


def strip_quotes(phrase: str) -> str:
    """A gold answer without the quote marks around it: '“Squid Game”' -> 'Squid Game'."""
    return phrase.strip(_SURROUNDING_QUOTES)


@lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern | None:
    words = normalize_quotes(unicodedata.normalize("NFC", strip_quotes(phrase))).split()
    if not words:
        return None
    # Not \b: a phrase may start or end with a non-word character ("$300bn", "U.S."); a whole phrase is one
    # not glued to a word character on either side.
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


def find_phrase(text: str, phrase: str) -> list[tuple[int, int]]:
    """Spans of whole-phrase, case-insensitive occurrences of phrase (its surrounding quotes ignored)."""
    pattern = _phrase_pattern(phrase)
    return [m.span() for m in pattern.finditer(normalize_quotes(text))] if pattern else []


def contains_phrase(text: str, phrase: str) -> bool:
    """True when phrase occurs in text as a whole phrase (case-insensitive, quotes and spacing ignored)."""
    pattern = _phrase_pattern(phrase)
    return bool(pattern and pattern.search(normalize_quotes(text)))


def contains_evidence(text: str, evidence: str) -> bool:
    """True when text holds the evidence string verbatim (case kept; quote style and spacing ignored)."""
    words = normalize_quotes(unicodedata.normalize("NFC", evidence)).split()
    if not words:
        return False
    return re.search(r"\s+".join(re.escape(w) for w in words), normalize_quotes(text)) is not None


def first_relevant_rank(relevant: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant item, None when none is."""
    return next((i for i, r in enumerate(relevant, 1) if r), None)


def hit_at(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    """1/rank when the first relevant item is in the top k, else 0 (the RR in MRR@k)."""
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator/denominator, None when the denominator is 0 (the metric is undefined, not zero)."""
    return numerator / denominator if denominator else None


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> tuple[float | None, float | None]:
    """(precision, recall) of abstaining as a detector of unanswerable questions."""
    right = sum(1 for a, ok in zip(abstained, answerable, strict=True) if a and not ok)
    return ratio(right, sum(abstained)), ratio(right, sum(1 for ok in answerable if not ok))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def choice_counts(text: str, choices: Sequence[str]) -> list[int]:
    """Whole-phrase occurrences of each choice in text; a match inside a longer choice's match is not counted
    for the shorter one ("New York" inside "New York City" counts only for "New York City")."""
    spans = [find_phrase(text, c) for c in choices]
    counts = []
    for i, own in enumerate(spans):
        count = 0
        for start, end in own:
            covered = any(
                s <= start and end <= e and (e - s) > (end - start)
                for j, other in enumerate(spans)
                if j != i
                for s, e in other
            )
            count += 0 if covered else 1
        counts.append(count)
    return counts


# Weights of the grounded multiple-choice score (see evals/README.md): the answer and its quotes count fully,
# the cited passages around the quotes only a little, to break ties where the quote itself names no choice.
MC_WEIGHTS = {"answer": 1.0, "quotes": 1.0, "passages": 0.25}


def multiple_choice(
    choices: Sequence[str], answer: str, quotes: Sequence[str], passages: Sequence[str], abstained: bool = False
) -> tuple[list[float], int | None]:
    """Score every choice from the answer, its cited quotes and cited passages; (scores, predicted index).

    score(c) = 1 x occurrences in the answer + 1 x in the cited quotes + 0.25 x in the distinct cited passages;
    the prediction is the single best-scoring choice, None when nothing scores, on a tie or on abstention.
    """
    scores = [0.0] * len(choices)
    if abstained or not choices:
        return scores, None
    parts = [("answer", [answer]), ("quotes", list(dict.fromkeys(quotes))), ("passages", list(dict.fromkeys(passages)))]
    for kind, texts in parts:
        for text in texts:
            for i, n in enumerate(choice_counts(text, choices)):
                scores[i] += MC_WEIGHTS[kind] * n
    best = max(scores)
    if best <= 0 or scores.count(best) > 1:
        return scores, None
    return scores, scores.index(best)
