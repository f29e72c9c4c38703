"""From a cue to the words it attributes: token ranges around the cue, trimmed to a statement's span."""

from __future__ import annotations

from assistant.quotes.cues import Cue
from assistant.quotes.layout import Quote, Tok, is_cap, is_plain_lower
from assistant.quotes.statement import Kind, Pending, Statement
from assistant.text.vocabulary import (
    ADDRESSEE_VERBS,
    ADDRESSEES,
    CONNECTORS,
    CUE_TAIL_WORDS,
    DETERMINERS,
    SPEECH_PARTICIPLES,
    TAIL_PREPOSITIONS,
)


def cue_spans(toks: list[Tok], cues: list[Cue], n: int) -> list[tuple[int, int]]:
    """Token ranges a cue attributes: before it, after it, or both for a cue inserted mid-sentence."""
    cue = cues[n]
    limit = cues[n + 1].sp_start if n + 1 < len(cues) and cues[n + 1].position == "start" else len(toks)
    lead = cue.lead
    floor = cues[n - 1].verb_end if n > 0 and cues[n - 1].position == "end" else 0
    # Punkt sometimes misses a boundary ("was ill. \"He is …\""): a statement never crosses a full stop.
    stops = [m for m, t in enumerate(toks) if t.kind == "p" and t.text in ".!?"]
    floor = max([floor] + [m + 1 for m in stops if m < lead])
    limit = min([limit] + [m for m in stops if m >= cue.verb_end])
    if cue.position == "start":
        after = _content_after(toks, cue, limit)
        return [after] if after else []
    spans = []
    before = (floor, lead)
    if lead > floor:
        spans.append(before)
    k = cue.verb_end
    if k + 1 < limit and toks[k].text == ",":
        nxt = toks[k + 1]
        if nxt.kind == "q":
            spans.append((k + 1, limit))  # "“…,” he said, “…”": the quote goes on
        elif nxt.text in SPEECH_PARTICIPLES and spans:
            # "…, Trump has said, expressing confidence that …": the participle adds to the statement; after a
            # whole quotation it is a reported statement of its own.
            window = [m for m in range(k + 2, min(limit, k + 6)) if toks[m].text == "that"]
            if window and all(t.kind == "w" for t in toks[k + 2 : window[0]]):
                pure_quote = toks[floor].kind == "q" and lead - floor <= 2
                if pure_quote:
                    spans.append((window[0] + 1, limit))
                else:
                    spans[-1] = (floor, limit)
        elif spans and _continues_clause(nxt):
            # "The economy is fine, he said, and …", "The chancellor, Merz said, had …": a cue inside the
            # sentence; one statement around it.
            spans[-1] = (floor, limit)
    return spans


def _content_after(toks: list[Tok], cue: Cue, limit: int) -> tuple[int, int] | None:
    """Token range of what a cue at the start of a clause introduces ("X told CNN that <content>")."""
    k = cue.verb_end
    if k >= limit:
        return None
    if toks[k].text in (",", ":") and k + 1 < limit and (toks[k].text == ":" or toks[k + 1].kind == "q"):
        return (k + 1, limit)
    addressed = not cue.according and toks[k - 1].text in ADDRESSEE_VERBS
    if addressed:
        k = skip_addressee(toks, k, limit)
    that = _that_ahead(toks, k, limit, loose=addressed)
    if that is not None:
        return (that + 1, limit)
    if cue.according and toks[k].text == ",":
        k += 1
    while k < limit and toks[k].text in (",", ":"):
        k += 1
    return (k, limit) if k < limit else None


def skip_addressee(toks: list[Tok], k: int, limit: int) -> int:
    """Step over the addressee of "told"/"asked": "CNN", "FOX News", "reporters", "the broadcaster ZDF"."""
    if k < limit and toks[k].text.lower() in DETERMINERS:
        k += 1
        nouns = 0  # "the broadcaster", "the news agency": at most two lower-case nouns
        while k < limit and nouns < 2 and is_plain_lower(toks[k]):
            k += 1
            nouns += 1
    if k < limit and is_cap(toks[k]):
        while k < limit and is_cap(toks[k]):
            k += 1
    elif k < limit and toks[k].text.lower() in ADDRESSEES:
        k += 1
    return k


def _that_ahead(toks: list[Tok], k: int, limit: int, loose: bool = False) -> int | None:
    """Index of a complementiser "that" after only adverbials ("in an interview with Fox News that").

    loose: after "told"/"asked" any few words may come first ("told the broadcaster ZDF that").
    """
    for m in range(k, min(limit, k + (6 if loose else 12))):
        t = toks[m]
        if t.text == "that":
            return m
        if t.kind == "q" or (t.kind == "p" and t.text != ","):
            return None
        known = is_cap(t) or t.text.lower() in CUE_TAIL_WORDS or t.text.endswith("ly")
        if t.kind == "w" and not (known or loose):
            return None
    return None


def _continues_clause(tok: Tok) -> bool:
    """After ", he said," does the sentence go on with its clause (not a tail like "without elaborating")?"""
    low = tok.text.lower()
    if tok.kind != "w" or not tok.text[0].islower():
        return False
    return low in CONNECTORS or not (low.endswith("ing") or low in TAIL_PREPOSITIONS)


def finish(text: str, pending: Pending, quotes: list[Quote]) -> list[Statement]:
    """Trim a raw span to the statement's words; a span that is one quotation becomes a direct quote."""
    s, e = _trim(text, pending.start, pending.end)
    if e <= s:
        return []
    first = next((q for q in quotes if q.start == s), None)
    if first is not None and _trim(text, first.end, e)[1] <= first.end:
        return [_make(text, first.cstart, first.cend, "direct", pending)]
    # Reported speech carrying quoted fragments ("said Russia “has a kind of …”") counts as direct: the
    # quoted words are the speaker's own. Fragments of one claim stay one statement.
    quoted = any(s <= q.start and q.end <= e + 1 for q in quotes)
    return [_make(text, s, e, "direct" if quoted else "reported", pending)]


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and (text[s].isspace() or text[s] in ",;:–—-"):
        s += 1
    while e > s and (text[e - 1].isspace() or text[e - 1] in ",;:–—-."):
        if text[e - 1] == "." and e - 3 >= s and text[e - 3] == ".":
            break  # "U.S." keeps its last dot
        e -= 1
    return s, e


def _make(text: str, s: int, e: int, kind: Kind, pending: Pending) -> Statement:
    s, e = _trim(text, s, e)
    roles = " ".join(sorted(pending.speaker.roles))
    return Statement(pending.speaker.name, kind, s, e, text[s:e], pending.cue, pending.mention, roles)
