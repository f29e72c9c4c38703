"""Phrase edges in a unit's tokens: introductory phrases, datelines, speaker phrases, role words before a name."""

from __future__ import annotations

from assistant.quotes.layout import Tok, is_cap, is_possessive
from assistant.text.vocabulary import (
    CALENDAR_WORDS,
    DETERMINERS,
    INTRO_WORDS,
    NP_MODIFIERS,
    ROLE_HEADS,
    ROLE_WORDS,
    looks_adjectival,
    role_stem,
)


def role_words_before(toks: list[Tok], i: int) -> list[str]:
    """Lower-case role words and capitalised modifiers right before a name: "the Russian negotiator"."""
    k = i
    while k > 0:
        t = toks[k - 1]
        if t.kind != "w" or t.text.lower() in DETERMINERS:
            break
        if not (is_cap(t) or role_stem(t.text) in ROLE_WORDS or looks_adjectival(t.text.lower())):
            break
        k -= 1
    return [t.text for t in toks[k:i]]


def is_dateline(prefix: list[Tok]) -> bool:
    """A dateline such as "BERLIN —" or "WASHINGTON (Reuters) -" before the first sentence."""
    words = [t for t in prefix if t.kind == "w"]
    capitals = all(t.text.isupper() or t.text == "Reuters" for t in words)
    return bool(words) and prefix[-1].text in "—–-" and capitals


def opens_sentence(toks: list[Tok], k: int) -> bool:
    """Does token k open its sentence, after an introductory phrase and its comma at most ("At the same time, X")?"""
    return k == 0 or (toks[k - 1].text == "," and is_intro(toks[: k - 1]))


def is_intro(prefix: list[Tok]) -> bool:
    """An introductory adverbial such as "At the same time" or "In an interview with NBC"."""
    if not prefix:
        return True
    if any(t.kind == "q" for t in prefix) or len(prefix) > 10:
        return False
    first = prefix[0].text.lower()
    return first in INTRO_WORDS or first in CALENDAR_WORDS


def speaker_before(toks: list[Tok], j: int) -> int | None:
    """Start index of a speaker phrase ending at token j ("he", "Dmitriev", "the Kremlin official")."""
    t = toks[j]
    if t.kind != "w":
        return None
    if t.text.lower() in ("he", "she", "it", "they"):
        return j
    if not ((is_cap(t) and not is_possessive(t)) or role_stem(t.text) in ROLE_HEADS):
        return None
    i = j
    while i > 0:
        p = toks[i - 1]
        low = p.text.lower()
        if p.kind != "w":
            break
        if low in DETERMINERS:
            i -= 1
            if i > 0 and toks[i - 1].text == "of":  # "head of the Russian Direct Investment Fund"
                i -= 1
                continue
            break
        if is_cap(p) or is_possessive(p) or low in ROLE_WORDS or low in NP_MODIFIERS or low == "of":
            i -= 1
            continue
        if looks_adjectival(low) and i < j:
            i -= 1
            continue
        break
    while i < j and toks[i].text == "of":
        i += 1
    return i
