"""Who a speaker phrase means: a name, a pronoun, a role description ("the Russian negotiator") or an unnamed source."""

from __future__ import annotations

from assistant.quotes.cast import Cast, Entity, drop_sentence_opener, looks_like_person, split_title
from assistant.quotes.layout import Tok, is_cap, is_possessive
from assistant.quotes.phrases import is_dateline, opens_sentence, role_words_before
from assistant.text.vocabulary import (
    CONNECTORS,
    DETERMINERS,
    PRONOUN_GENDERS,
    ROLE_HEADS,
    ROLE_WORDS,
    bare,
    is_plural_role,
    role_stem,
)


def _resolve_pronoun(word: str, cast: Cast, offset: int) -> Entity | None:
    """The most recent salient person (subject or speaker) whose known gender fits the pronoun."""
    gender = PRONOUN_GENDERS[word.lower()]
    for pos, ent, _ in reversed(cast.events):
        if pos < offset and ent.kind == "person" and ent.gender in (None, gender):
            ent.gender = gender
            return ent
    return None


def _last_person_speaker(cast: Cast, offset: int) -> Entity | None:
    """The latest person (or unnamed source) that spoke or opened a sentence before offset."""
    for pos, ent, _ in reversed(cast.events):
        if pos < offset and ent.kind in ("person", "other"):
            return ent
    return None


def _resolve_it(cast: Cast, offset: int, para: int) -> Entity | None:
    """For "it said" / "they said": the organisation or group that spoke last, here or a paragraph before."""
    for pos, ent, p in reversed(cast.events):
        if pos < offset and p >= para - 1 and ent.kind in ("org", "other"):
            return ent
    return None


def resolve_role(
    words: list[str],
    exclude: set[str],
    cast: Cast,
    offset: int,
    para: int,
    affinity: frozenset[str] = frozenset(),
) -> Entity:
    """A role description ("the Russian negotiator") -> the person it names in this article.

    Roles learnt from appositions dominate; recency (the last speaker, people of this or the previous
    paragraph) breaks ties and covers roles the article never spells out ("the official").
    """
    content = [w for w in words if w.lower() not in DETERMINERS]
    if not content:
        return _unnamed(words, cast)
    if words[0].lower() in {"a", "an"} or is_plural_role(content[-1]):
        return _unnamed(words, cast)  # "a spokesman", "officials": unnamed sources stay as written
    head, mods = role_stem(content[-1]), {role_stem(w) for w in content[:-1]}
    last = _last_person_speaker(cast, offset)
    best, best_score = None, 0.0
    candidates = list(cast.persons.values()) + [o for o in cast.others.values() if head in o.roles]
    for ent in candidates:
        name = ent.name
        if name in exclude or name not in cast.mentions or cast.mentions[name][1] >= offset:
            continue
        score = 4 * ent.roles.get(head, 0.0) + sum(ent.roles.get(m, 0.0) for m in mods)
        score += 2.5 if ent is last else 0.0
        score += 1.0 if cast.mentions[name][0] >= para - 1 else 0.0
        score += 2.0 if affinity & ent.roles.keys() else 0.0
        if score > best_score:
            best, best_score = ent, score
    for ent in cast.orgs.values():
        # "the ministry said" -> "the Russian Defence Ministry", when the article has one such organisation.
        if head in {w.lower() for w in ent.name.split()} and best_score < 4.0:
            best, best_score = ent, 4.0
    return best if best is not None and best_score >= 2.0 else _unnamed(words, cast)


def _unnamed(words: list[str], cast: Cast) -> Entity:
    """An unnamed source kept as written ("a senior Western diplomat"), so "the diplomat" finds it later."""
    name = " ".join(words)
    if words[0] in ("The", "A", "An") or role_stem(words[0]) in ROLE_WORDS:
        name = name[0].lower() + name[1:]  # capitalised only because it opens the sentence: "Officials said"
    if name.lower() not in cast.others:
        ent = Entity(name, "other")
        ent.add_roles(words, 1.0)
        cast.others[name.lower()] = ent
    return cast.others[name.lower()]


def resolve_speaker(toks: list[Tok], cast: Cast, para: int) -> Entity | None:
    """The entity a speaker phrase (tokens) refers to, or None when it names nobody."""
    words = [t.text for t in toks if t.kind == "w"]
    if not words:
        return None
    offset = toks[0].start
    if len(words) == 1 and words[0].lower() in PRONOUN_GENDERS:
        return _resolve_pronoun(words[0], cast, offset)
    if len(words) == 1 and words[0].lower() in ("it", "they"):
        return _resolve_it(cast, offset, para)
    poss = max((k for k, t in enumerate(toks) if is_possessive(t)), default=-1)
    if poss >= 0:
        # "Putin’s special envoy": a role of someone other than the possessor.
        owner = cast.person_for([t.text for t in toks[: poss + 1] if is_cap(t)] or ["-"])
        rest = [t.text for t in toks[poss + 1 :]]
        if rest and rest[-1][0].isupper() and (named := cast.person_for(split_title(rest)[1])) is not None:
            return named  # "Putin’s special envoy Kirill Dmitriev": the person named
        return resolve_role(rest, {owner.name} if owner else set(), cast, offset, para) if rest else None
    last = words[-1]
    if role_stem(last) in ROLE_HEADS:
        return resolve_role(words, set(), cast, offset, para)
    if not last[0].isupper():
        return None
    return _resolve_name(words, cast)


def _resolve_name(words: list[str], cast: Cast) -> Entity:
    det = words[0].lower() == "the"
    core = words[1:] if det else words
    if len(core) > 2 and core[0].lower() in CONNECTORS:
        core = core[1:]  # "But James Laurenceson, director of …, said": the sentence's first word is no name
    title, name = split_title(core)
    person = cast.person_for(name)
    if person is not None:
        return person
    if len(name) > 1 and looks_like_person(name, cast):
        return cast.add_person(" ".join(name))
    # A lone unknown capitalised word ("Bloomberg", "Moscow") or an institution: an organisation.
    return cast.org(("the " if det else "") + " ".join(core))


def record_mentions(
    toks: list[Tok], runs: list[tuple[int, int]], cast: Cast, para: int
) -> tuple[Entity, int, int] | None:
    """Note the people a unit names (outside quotes), for recency.

    A person opening the sentence (after an introductory phrase at most) is salient for pronouns; it is
    returned as (person, first token, first token after the name).
    """
    subject = None
    for run in runs:
        i, j = drop_sentence_opener(toks, run, cast)
        _, name = split_title([bare(t.text) for t in toks[i:j]])
        person = cast.person_for(name)
        if person is None:
            continue
        cast.mentions[person.name] = (para, toks[i].start)
        follows = toks[j] if j < len(toks) else None
        k = i - len(role_words_before(toks, i))  # "Opposition leader Mark Benton"
        k = k - 1 if k > 0 and toks[k - 1].text.lower() == "the" else k
        opens = opens_sentence(toks, k) or is_dateline(toks[:k])
        verb_follows = follows is not None and (follows.kind == "q" or follows.text.islower())
        if subject is None and opens and verb_follows:
            cast.events.append((toks[i].start, person, para))
            subject = (person, i, j)
    return subject
