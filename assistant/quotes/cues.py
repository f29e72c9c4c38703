"""Speech cues: "X said", "“…,” he said", "according to X"; each with its speaker phrase and where its words lie."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.quotes.layout import Tok, is_cap, is_plain_lower, text_at
from assistant.quotes.phrases import is_intro, opens_sentence, speaker_before
from assistant.text.vocabulary import (
    AUXILIARIES,
    CONNECTORS,
    DESCRIPTION_TAIL,
    DETERMINERS,
    NEGATIONS,
    NOT_DESCRIPTIVE,
    ROLE_HEADS,
    ROLE_WORDS,
    SPEECH_VERBS,
    bare,
    role_stem,
)

_DESCRIPTION_WORDS = 5  # at most this many lower-case words describe a speaker ("the port authority’s chief executive")


@dataclass
class Cue:
    """Attribution words in a unit's tokens: who speaks, and whether the statement follows or precedes them."""

    sp_start: int  # token index where the speaker phrase starts
    sp_end: int  # token index just after the speaker phrase
    verb_end: int  # token index just after the cue words (verb, and "out" of "pointed out")
    position: str  # "start": the statement follows the cue; "end": it precedes it
    lead: int  # token index where the cue words start ("according", "said" of "said Dmitriev", the speaker)
    according: bool = False
    person: bool = False  # a lower-case description names the speaker: only a person counts ("union leader X")


def _is_descriptive(tok: Tok) -> bool:
    """A lower-case word that may describe a speaker before the name: "union", "port", "authority’s"."""
    return is_plain_lower(tok) and bare(tok.text) not in NOT_DESCRIPTIVE and not any(c.isdigit() for c in tok.text)


def _is_description(toks: list[Tok], s: int, e: int) -> bool:
    """Do toks[s:e] describe the person named right after them? An article at most, then a few lower-case words
    ending in a role word: "union leader", "spokesman", "the port authority’s chief executive"."""
    words = toks[s + 1 : e] if text_at(toks, s).lower() in DETERMINERS else toks[s:e]
    if not 0 < len(words) <= _DESCRIPTION_WORDS or not all(_is_descriptive(t) for t in words):
        return False
    return e < len(toks) and is_cap(toks[e]) and words[-1].text in ROLE_WORDS  # one person: not "professors"


def _description_before(toks: list[Tok], i: int, j: int) -> int | None:
    """Start of a lower-case description that begins a speaker phrase toks[i:j+1] before its name, when it reaches
    further back than i: "union" of "“…,” union leader Maria Lopez said" (None when there is none)."""
    n = j  # the name: the capitalised words ending at j
    while n > 0 and is_cap(toks[n - 1]):
        n -= 1
    s = n
    while s > 0 and n - s < _DESCRIPTION_WORDS and _is_descriptive(toks[s - 1]):
        s -= 1
    if s > 0 and toks[s - 1].text.lower() in DETERMINERS:
        s -= 1
    return s if s < i and _is_name_end(toks[j]) and _is_description(toks, s, n) else None


def _is_name_end(tok: Tok) -> bool:
    """A capitalised last word that is not a title: "Lopez", not "Director" (of "… Director of Content")."""
    return is_cap(tok) and role_stem(tok.text) not in ROLE_WORDS


def _skip_back_insert(toks: list[Tok], j: int) -> int:
    """Step over ", citing X," / ", quoting X," between a speaker and the verb."""
    for k in range(j, max(j - 10, 0), -1):
        if toks[k].kind == "p" and toks[k].text in ".;":
            break
        if toks[k].text in ("citing", "quoting") and k > 0 and toks[k - 1].text == ",":
            return k - 2
    return j


def cue_at(toks: list[Tok], v: int) -> Cue | None:
    """The cue whose verb is token v, with its speaker phrase and whether it opens or closes its statement."""
    j = v - 1
    while j >= 0 and toks[j].kind == "w" and (toks[j].text in AUXILIARIES or toks[j].text.endswith("ly")):
        j -= 1
    if j < 0 or toks[j].text in NEGATIONS:
        return None
    j = _skip_back_insert(toks, j)
    if j < 0:
        return None
    if toks[j].text == ",":
        start, end, anchor = _apposition_speaker(toks, j)
    else:
        start = anchor = speaker_before(toks, j)
        end = j + 1
    if start is None or anchor is None:
        return _inverted_cue(toks, v)
    verb_end = v + 2 if toks[v].text in ("pointed", "points") and text_at(toks, v + 1) == "out" else v + 1
    position = _position(toks, anchor)
    description = _description_before(toks, anchor, j) if position is None else None
    described = description is not None
    if description is not None:
        # "“…,” union leader Maria Lopez said": lower-case words the role words do not cover ("union") open it.
        start = anchor = description
        position = _position(toks, anchor)
    if position is None:
        return None
    return Cue(start, end, verb_end, position, anchor, person=described)


def _apposition_speaker(toks: list[Tok], j: int) -> tuple[int | None, int, int | None]:
    """A speaker with an apposition before the verb at j+1: (name start, name end, subject phrase start).

    "Rodion Miroshnik, Ambassador-at-Large of the Russian Foreign Ministry, said", "Tom Reed, who manages a
    fund, said", and the other way round "The company’s chief executive, Maria Lopez, told".
    """
    c = j - 1
    while c > 0 and toks[c].kind == "w" and j - c <= 20:
        c -= 1
    if c <= 0 or toks[c].text != "," or c == j - 1:
        return None, j, None
    words = [t.text for t in toks[c + 1 : j]]
    if all(is_cap(t) for t in toks[c + 1 : j]) and role_stem(toks[c - 1].text) in ROLE_HEADS:
        return c + 1, j, speaker_before(toks, c - 1)
    relative = words[0].lower() in ("who", "whose")
    # "Frieden, president and CEO of Resolve to Save Lives, told": a (singular) lower-case role word may open it
    if not (relative or words[0][0].isupper() or words[0] in DETERMINERS | ROLE_WORDS):
        return None, j, None
    if not (relative or any(role_stem(w) in ROLE_WORDS for w in words)):
        return None, j, None
    if not (is_cap(toks[c - 1]) or (relative and role_stem(toks[c - 1].text) in ROLE_HEADS)):
        return None, j, None
    start = speaker_before(toks, c - 1)
    return start, c, start


def _inverted_cue(toks: list[Tok], v: int) -> Cue | None:
    """Inverted cue: "“…,” said Dmitriev." — verb first, then the speaker, then the end of the sentence.

    A lower-case description may come before the name ("said union leader Maria Lopez") or after it ("said
    John Smith of the port authority"); the speaker must then be a person.
    """
    if v == 0 or not (toks[v - 1].kind == "q" or toks[v - 1].text == ",") or toks[v].text in ("told", "tells"):
        return None  # "…,” told CNN’s Anderson Cooper": who follows "told" is the addressee
    k = v + 1
    while k < len(toks) and k - v <= _DESCRIPTION_WORDS + 1 and not is_cap(toks[k]):
        k += 1
    described = _is_description(toks, v + 1, k)
    k = k if described else v + 1
    while k < len(toks) and (is_cap(toks[k]) or toks[k].text.lower() in DETERMINERS | ROLE_WORDS):
        k += 1
    if k == v + 1 or not is_cap(toks[k - 1]):
        return None
    end = k
    if text_at(toks, k) in DESCRIPTION_TAIL:
        end = k + 1
        while end < len(toks) and toks[end].kind == "w" and end - k <= 8:
            end += 1
        described = True
    if (end < len(toks) and toks[end].text not in ".,;") or (described and not _is_name_end(toks[k - 1])):
        return None
    if end < len(toks) and toks[end].text == ",":
        # ", chief economist at Deka Bank." closing the sentence describes the speaker.
        rest = toks[end + 1 :]
        while rest and rest[-1].kind == "p":
            rest = rest[:-1]
        if rest and all(t.kind == "w" for t in rest):
            end = end + 1 + len(rest)
    return Cue(v + 1, k, end, "end", v, person=described)


def _position(toks: list[Tok], start: int) -> str | None:
    """Does a speaker phrase open a clause ("start") or close one ("end")? None inside another clause."""
    if start == 0:
        return "start"
    prev = toks[start - 1]
    if prev.kind == "q":
        return "end"
    if prev.text.lower() in CONNECTORS or prev.text == ";":
        return "start"
    if prev.text == ",":
        return "start" if is_intro(toks[: start - 1]) else "end"
    return None


def _according_cue(toks: list[Tok], a: int) -> Cue | None:
    """Cue "According to X, …" / "…, according to X." with the speaker phrase after "to"."""
    if text_at(toks, a + 1) != "to":
        return None
    k = a + 2
    while k < len(toks) and toks[k].kind == "w" and k - a < 10:
        k += 1
    words = [t.text for t in toks[a + 2 : k]]
    if not words or not (any(w[0].isupper() for w in words) or words[-1].lower() in ("him", "her")):
        return None
    if opens_sentence(toks, a):
        return Cue(a + 2, k, k, "start", a, according=True)
    if toks[a - 1].text == "," and (k >= len(toks) or toks[k].text in ".;"):
        return Cue(a + 2, k, k, "end", a, according=True)
    return None


def find_cues(toks: list[Tok]) -> list[Cue]:
    cues: list[Cue] = []
    for v, t in enumerate(toks):
        if t.kind != "w":
            continue
        cue = None
        if t.text in SPEECH_VERBS:
            cue = cue_at(toks, v)
        elif t.text.lower() == "according":
            cue = _according_cue(toks, v)
        if cue is not None and not any(c.sp_start <= cue.sp_start < c.verb_end for c in cues):
            cues.append(cue)
    return cues
