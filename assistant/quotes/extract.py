"""Rule-based "who said what": an article's statements (quotes and reported speech), each with its resolved speaker."""

from __future__ import annotations

import re
from dataclasses import asdict

from assistant.quotes.cast import Cast, Entity, collect_cast
from assistant.quotes.coreference import record_mentions, resolve_role, resolve_speaker
from assistant.quotes.cues import Cue, cue_at, find_cues
from assistant.quotes.layout import Tok, article_layout, tokenize
from assistant.quotes.spans import cue_spans, finish, skip_addressee
from assistant.quotes.statement import Pending, Statement
from assistant.text.vocabulary import ADDRESSEE_VERBS, PRONOUN_GENDERS, SPEECH_PARTICIPLES, SPEECH_VERBS, is_nationality


def statement_rows(article_id: str, text: str, sentences: list[tuple[int, int]] | None = None) -> list[dict]:
    """An article's statements as the index stores them (one dict each, with the article's id)."""
    return [{"article_id": article_id, **asdict(s)} for s in extract_statements(text, sentences)]


def extract_statements(text: str, sentences: list[tuple[int, int]] | None = None) -> list[Statement]:
    """All statements in an article's text, in order, each with its resolved speaker; sentences are the text's
    sentence_spans when the caller has them already (splitting into passages made them)."""
    layout = article_layout(text, sentences)
    cast = collect_cast(text, layout)
    statements: list[Statement] = []
    seen: set[tuple[int, int]] = set()
    last: Pending | None = None  # the latest statement, which a bare quote may continue
    colon: Pending | None = None  # "Dmitriev also added:" waiting for the quote in the next paragraph
    for p, para in enumerate(layout):
        if para.headline:
            colon = None
            continue
        for u, (toks, runs) in enumerate(zip(para.unit_tokens, para.unit_runs, strict=True)):
            subject = record_mentions(toks, runs, cast, p)
            found = _unit_statements(toks, find_cues(toks), cast, p, text)
            if not found and _is_pure_quote(toks):
                # A bare quote goes on from its own paragraph, or (opening one) from the paragraph before.
                floor = para.start if u > 0 or p == 0 else layout[p - 1].start
                found = _continued_quote(toks, colon, last, floor, u)
            if not found and subject is not None:
                found = _participle_statement(toks, subject, text) or _fragment_statement(toks, subject, text)
            ends_with_colon = bool(toks) and toks[-1].text == ":"
            colon = _colon_cue(toks, cast, p, text) if ends_with_colon and not found else None
            for item in found:
                for st in finish(text, item, para.quotes):
                    for one in [st, *_nested_statements(text, st, item.speaker, cast, p)]:
                        if one.text and (one.start, one.end) not in seen:
                            seen.add((one.start, one.end))
                            statements.append(one)
            last = found[-1] if found else last
    return sorted(statements, key=lambda st: st.start)


def _unit_statements(toks: list[Tok], cues: list[Cue], cast: Cast, para: int, text: str) -> list[Pending]:
    """Statements of one unit, resolving each cue's speaker in reading order."""
    found: list[Pending] = []
    for n, cue in enumerate(cues):
        speaker = _cue_speaker(toks, cue, cast, para, text)
        if speaker is None:
            continue
        ent, mention = speaker
        cue_end = max(cue.verb_end, cue.sp_end)
        if toks[cue_end - 1].text in ADDRESSEE_VERBS:
            cue_end = skip_addressee(toks, cue_end, len(toks))  # "told reporters", "told FOX News"
        cue_text = text[toks[cue.lead].start : toks[cue_end - 1].end]
        for s, e in cue_spans(toks, cues, n):
            found.append(Pending(toks[s].start, toks[e - 1].end, ent, cue_text, mention))
    return found


def _cue_speaker(toks: list[Tok], cue: Cue, cast: Cast, para: int, text: str) -> tuple[Entity, str] | None:
    """Who a cue's speaker phrase names (noted as the latest speaker) and the phrase as written; None for nobody.

    A speaker the cue describes in lower-case words ("union leader Maria Lopez") must be a person.
    """
    speaker_toks = toks[cue.sp_start : cue.sp_end]
    ent = resolve_speaker(speaker_toks, cast, para)
    if ent is None or (cue.person and ent.kind != "person"):
        return None
    cast.note_speaker(ent, speaker_toks[0].start, para)
    return ent, text[speaker_toks[0].start : speaker_toks[-1].end]


def _is_pure_quote(toks: list[Tok]) -> bool:
    return bool(toks) and toks[0].kind == "q" and all(t.kind == "p" for t in toks[1:])


def _colon_cue(toks: list[Tok], cast: Cast, para: int, text: str) -> Pending | None:
    """A cue closing a paragraph ("Dmitriev also added:", "He also claimed:"): the next quote's speaker."""
    v = len(toks) - 2
    if v < 1 or toks[v].text not in SPEECH_VERBS:
        return None
    cue = cue_at(toks, v)
    if cue is None:
        return None
    speaker = _cue_speaker(toks, cue, cast, para, text)
    if speaker is None:
        return None
    ent, mention = speaker
    return Pending(0, 0, ent, text[toks[cue.sp_start].start : toks[v].end], mention)


def _continued_quote(toks: list[Tok], colon: Pending | None, last: Pending | None, floor: int, u: int) -> list[Pending]:
    """A quotation with no cue of its own: announced by a colon, or the last speaker (past floor) going on."""
    q = toks[0]
    if colon is not None and u == 0:
        return [Pending(q.start, q.end, colon.speaker, colon.cue, colon.mention)]
    if last is not None and last.speaker.kind != "org" and last.start >= floor:
        return [Pending(q.start, q.end, last.speaker, last.cue, last.mention)]
    return []


def _participle_statement(toks: list[Tok], subject: tuple[Entity, int, int], text: str) -> list[Pending]:
    """The subject's words after ", saying": "Scholz rejected tax cuts, saying the country could not pay"."""
    person, i, j = subject
    for m in range(j, len(toks) - 2):
        if toks[m].text == "," and toks[m + 1].text in SPEECH_PARTICIPLES:
            k = m + 2
            if toks[k].text != "that":
                that = [n for n in range(k, min(len(toks), k + 4)) if toks[n].text == "that"]
                if toks[m + 1].text != "saying" and not that:
                    continue  # "adding", "noting" … need "that"; "saying" may drop it
                k = that[0] if that else k - 1
            name = text[toks[i].start : toks[j - 1].end]
            cue = f"{name} … {toks[m + 1].text}"
            return [Pending(toks[k + 1].start, toks[-1].end, person, cue, name)]
    return []


def _fragment_statement(toks: list[Tok], subject: tuple[Entity, int, int], text: str) -> list[Pending]:
    """Quoted words in a cue-less sentence whose subject is a person are that person's.

    "Dmitriev discussed … co-operation “in various other sectors.”"; quotes of one or two words are
    usually scare quotes and do not count.
    """
    person, i, j = subject
    if j + 1 >= len(toks) or toks[j].kind != "w":
        return []
    fragments = [t for t in toks[j + 1 :] if t.kind == "q" and len(t.text.split()) >= 3]
    if not fragments:
        return []
    cue = text[toks[i].start : toks[j].end]
    return [Pending(toks[j + 1].start, toks[-1].end, person, cue, text[toks[i].start : toks[j - 1].end])]


# "…NATO, as our president said, is not possible…": someone else's words cited inside a statement.
_NESTED_CUE = re.compile(
    r",\s+as\s+(?P<who>[^,;:.“”\"]{2,40}?)\s+(?:has\s+|had\s+|also\s+)?"
    r"(?:said|noted|stressed|stated|put it|pointed out|warned|explained|emphasi[sz]ed),\s*"
)


def _nested_statements(text: str, st: Statement, speaker: Entity, cast: Cast, para: int) -> list[Statement]:
    """Statements cited inside another one ("as our president said"), given to the one cited."""
    found = []
    for m in _NESTED_CUE.finditer(st.text):
        who = tokenize(text, st.start + m.start("who"), st.start + m.end("who"), {})
        words = [t.text for t in who]
        ent: Entity | None
        if words[0].lower() in ("our", "my"):
            # "our president": the president of the speaker's own country.
            affinity = frozenset(r for r in speaker.roles if is_nationality(r))
            ent = resolve_role(words[1:], {speaker.name}, cast, who[0].start, para, affinity)
        elif words[0].lower() in PRONOUN_GENDERS:
            continue
        else:
            ent = resolve_speaker(who, cast, para)
        if ent is None or ent is speaker or ent.kind == "other":
            continue
        before = st.text[: m.start()]
        opener = max((b.end() for b in re.finditer(r"[.;:!?]\s+|\bthat\s+", before)), default=0)
        after = re.search(r"[,;.!?]|$", st.text[m.end() :])
        assert after is not None  # "$" always matches
        s, e = st.start + opener, st.start + m.end() + after.start()
        cue, roles = m.group().strip(" ,"), " ".join(sorted(ent.roles))
        found.append(Statement(ent.name, "reported", s, e, text[s:e], cue, " ".join(words), roles))
    return found
