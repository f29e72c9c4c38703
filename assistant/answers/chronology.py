"""Time in answers: cited sentences from articles of different dates carry their date, newest first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from assistant.text.dates import long_date

T = TypeVar("T")
# Sentence openers that are ordinary words, lowered after a date ("On 5 April 2025, he said …"); names keep theirs.
_ORDINARY_OPENERS = frozenset(
    [
        "According",
        "The",
        "A",
        "An",
        "Some",
        "It",
        "This",
        "That",
        "These",
        "Those",
        "There",
        "He",
        "She",
        "They",
        "We",
        "In",
        "At",
        "On",
        "But",
        "And",
        "After",
        "Before",
        "When",
        "While",
        "Asked",
    ]
)


def dated(items: Sequence[T], published: Callable[[T], str], keep_order: bool) -> list[tuple[T, str]]:
    """Each item with the prefix its sentence gets: "On 5 April 2025, " when the items come from articles of more
    than one date ("" otherwise, or for an undated article), newest first unless `keep_order` (the question names
    a time, so relevance to it ranks)."""
    days = {published(item) for item in items}
    if len(days) < 2:
        return [(item, "") for item in items]
    ordered = list(items) if keep_order else sorted(items, key=published, reverse=True)  # sorted() is stable
    return [(item, f"On {long_date(published(item))}, " if published(item) else "") for item in ordered]


def with_prefix(prefix: str, sentence: str) -> str:
    """The sentence after its date: "On 5 April 2025, according to …" (an ordinary first word lowered)."""
    if not prefix:
        return sentence
    first = sentence.split(" ", 1)[0]
    if first in _ORDINARY_OPENERS:
        sentence = sentence[0].lower() + sentence[1:]
    return prefix + sentence
