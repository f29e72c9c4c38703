"""The cast of an article: people and organisations, their name variants, roles and salience."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from assistant.quotes.layout import Paragraph, Tok, is_possessive
from assistant.quotes.phrases import role_words_before, speaker_before
from assistant.text.vocabulary import (
    CALENDAR_WORDS,
    DETERMINERS,
    ORG_WORDS,
    PLACE_PREPOSITIONS,
    ROLE_HEADS,
    ROLE_WORDS,
    bare,
    is_acronym,
    is_nationality,
    is_plural_role,
    role_stem,
)


@dataclass
class Entity:
    """A person, organisation or unnamed source of the article, with the roles the text gives it."""

    name: str
    kind: str  # "person", "org" or "other" (an unnamed source such as "a person familiar with the talks")
    roles: dict[str, float] = field(default_factory=dict)  # role stem -> strength of the apposition
    gender: str | None = None

    def add_roles(self, words: Iterable[str], weight: float) -> None:
        for w in words:
            stem = role_stem(w)
            if stem and stem not in DETERMINERS and stem != "of":
                self.roles[stem] = max(self.roles.get(stem, 0.0), weight)


@dataclass
class _NameIndex:
    """The persons of a cast by parts of their names."""

    surname: dict[str, list[Entity]]  # lower-case last name word -> persons
    initial: dict[str, list[tuple[str, Entity]]]  # its first letter -> (lower-case last name word, person)
    first: dict[str, list[Entity]]  # first name word -> persons


@dataclass
class Cast:
    """Everyone an article names, and who was mentioned or spoke where (for pronouns and roles)."""

    persons: dict[str, Entity] = field(default_factory=dict)
    orgs: dict[str, Entity] = field(default_factory=dict)
    others: dict[str, Entity] = field(default_factory=dict)  # unnamed sources: "a senior Western diplomat"
    lower_words: set[str] = field(default_factory=set)  # words the text uses in lower case
    events: list[tuple[int, Entity, int]] = field(default_factory=list)  # (offset, entity, paragraph)
    mentions: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (paragraph, offset)
    _index: _NameIndex | None = None  # persons by name parts, built lazily (names are looked up per mention)
    _near: dict[str, list[Entity]] = field(default_factory=dict)  # cache of _near_or_first

    def add_person(self, full: str) -> Entity:
        self.persons[full] = Entity(full, "person")
        self._index, self._near = None, {}
        return self.persons[full]

    def rename_person(self, person: Entity, full: str) -> None:
        del self.persons[person.name]
        person.name = full
        self.persons[full] = person
        self._index, self._near = None, {}

    @property
    def index(self) -> _NameIndex:
        if self._index is None:
            self._index = _NameIndex({}, {}, {})
            for p in self.persons.values():  # in the persons' order, which breaks ties among them
                words = p.name.split()
                surname = words[-1].lower()
                self._index.surname.setdefault(surname, []).append(p)
                self._index.initial.setdefault(surname[0], []).append((surname, p))
                self._index.first.setdefault(words[0], []).append(p)
        return self._index

    def note_speaker(self, ent: Entity, offset: int, para: int) -> None:
        self.events.append((offset, ent, para))
        self.mentions[ent.name] = (para, offset)

    def by_surname(self, word: str) -> list[Entity]:
        return self.index.surname.get(bare(word).lower(), [])

    def person_for(self, name_words: Sequence[str]) -> Entity | None:
        """The person a name refers to: exact full name, then surname, then a near-miss spelling."""
        words = [bare(w) for w in name_words]
        full = " ".join(words)
        if full in self.persons:
            return self.persons[full]
        for p in self.by_surname(words[-1]) if len(words) > 1 else []:
            if _contains_name(p.name.split(), words):
                return p
        if len(words) == 1:
            found = self.by_surname(words[0]) or self._near_or_first(words[0])
            if found:
                return max(found, key=lambda p: self.mentions.get(p.name, (-1, -1)))
        return None

    def _near_or_first(self, word: str) -> list[Entity]:
        """Persons a lone word names other than by its exact surname (cached: asked for every mention).

        Articles misspell names ("Whitkoff" for "Witkoff"): one slip in a long surname is allowed. Names
        written surname first ("Xi Jinping") are met by their first word, if only one person has it.
        """
        if word not in self._near:
            lower = word.lower()
            # near_spelling asks for the same first letter: only surnames with it are tried
            same_initial = self.index.initial.get(lower[0], []) if len(word) >= 6 else []
            near = [p for surname, p in same_initial if near_spelling(surname, lower)]
            first = self.index.first.get(word, [])
            self._near[word] = near or (first if len(first) == 1 else [])
        return self._near[word]

    def org(self, name: str) -> Entity:
        key = re.sub(r"^the\s+", "", name, flags=re.IGNORECASE).lower()
        if key not in self.orgs:
            self.orgs[key] = Entity(name, "org")
        return self.orgs[key]


def _contains_name(full: Sequence[str], part: Sequence[str]) -> bool:
    """True when part ("Donald Trump") is an ordered subsequence of full ("Donald J. Trump")."""
    it = iter(w.lower() for w in full)
    return all(any(w.lower() == x for x in it) for w in part) and part[-1].lower() == full[-1].lower()


def split_title(words: list[str]) -> tuple[list[str], list[str]]:
    """("US President Donald Trump") -> (["US", "President"], ["Donald", "Trump"])."""
    cut = 0
    for i, w in enumerate(words[:-1]):
        if role_stem(w) in ROLE_WORDS:
            cut = i + 1
    while len(words) - cut > 2 and is_nationality(words[cut]):
        cut += 1  # "Russian Kirill Dmitriev": the nationality is a title, not a first name
    return words[:cut], words[cut:]


def looks_like_person(words: list[str], cast: Cast) -> bool:
    if not 2 <= len(words) <= 4:
        return False
    for w in words:
        low = bare(w).lower().rstrip(".")
        if (
            low in ORG_WORDS
            or low in CALENDAR_WORDS
            or low in ROLE_WORDS
            or low in cast.lower_words
            or any(ch.isdigit() for ch in w)
            or is_acronym(w)
            or is_nationality(w)
            or sum(ch.isupper() for ch in w) > 2  # "HomeWorldEurope": words glued by page markup
        ):
            return False
    return True


def drop_sentence_opener(toks: list[Tok], run: tuple[int, int], cast: Cast) -> tuple[int, int]:
    """A capitalised first word of a sentence is an ordinary word when the text also uses it in lower case."""
    i, j = run
    if i == 0 and j - i > 1 and toks[i].text.lower() in cast.lower_words:
        return i + 1, j
    return run


def collect_cast(text: str, layout: list[Paragraph]) -> Cast:
    """First pass: every full personal name in the text and the roles appositions give them."""
    cast = Cast(lower_words={w for w in re.findall(r"\b[a-z][a-z\-]+\b", text)})
    runs_seen: list[tuple[list[Tok], tuple[int, int]]] = []
    for para in layout:
        for toks, runs in zip(para.unit_tokens, para.unit_runs, strict=True):
            for run in runs:
                run = drop_sentence_opener(toks, run, cast)
                runs_seen.append((toks, run))
                if not para.headline:  # breadcrumbs and furniture ("Most Popular") name nobody
                    _register_name(toks, run, cast)
    for toks, run in runs_seen:
        _link_roles(toks, run, cast)
    return cast


def _register_name(toks: list[Tok], run: tuple[int, int], cast: Cast) -> None:
    i, j = run
    words = [bare(t.text) for t in toks[i:j]]
    title, name = split_title(words)
    if i > 0 and not title and toks[i - 1].text.lower() in PLACE_PREPOSITIONS:
        return  # "from South Carolina": a place
    if not looks_like_person(name, cast):
        if any(w.lower() in ORG_WORDS for w in words):
            det = "the " if i > 0 and toks[i - 1].text.lower() == "the" else ""
            cast.org(det + " ".join(words))
        return
    full = " ".join(name)
    existing = cast.person_for(name)
    if existing is None:
        cast.add_person(full)
    elif len(name) > len(existing.name.split()):
        cast.rename_person(existing, full)  # the fullest form is canonical ("Donald J. Trump")
    person = cast.person_for(name)
    if person is not None and title and role_stem(title[-1]) in {"mr", "mrs", "ms", "miss"}:
        person.gender = "m" if role_stem(title[-1]) == "mr" else "f"


def _link_roles(toks: list[Tok], run: tuple[int, int], cast: Cast) -> None:
    """Role words around a name: "US special envoy Steve Witkoff", "Miroshnik, Ambassador-at-Large of …"."""
    i, j = run
    words = [bare(t.text) for t in toks[i:j]]
    title, name = split_title(words)
    person = cast.person_for(name)
    if person is None:
        return
    before = role_words_before(toks, i)
    pre = before + title
    if any(role_stem(w) in ROLE_WORDS for w in pre):
        person.add_roles(pre, 0.5 if any(is_plural_role(w) for w in pre) else 1.0)
    appos = _apposition_after(toks, j)
    if appos:
        person.add_roles(appos, 1.0)
    if i >= 2 and toks[i - 1].text == "," and role_stem(toks[i - 2].text) in ROLE_HEADS:
        # "The company’s chief executive, Maria Lopez, …"
        start = speaker_before(toks, i - 2)
        if start is not None:
            person.add_roles([t.text for t in toks[start : i - 1] if not is_possessive(t)], 1.0)


def _apposition_after(toks: list[Tok], j: int) -> list[str]:
    """Role words of an apposition after a name (", Ambassador-at-Large of the Russian Foreign Ministry,")."""
    if j >= len(toks) or toks[j].text != ",":
        return []
    k = j + 1
    while k < len(toks) and toks[k].kind == "w" and k - j <= 12:
        k += 1
    words = [t.text for t in toks[j + 1 : k]]
    if k >= len(toks) or toks[k].text not in ",." or not words:
        return []
    if not (words[0][0].isupper() or words[0].lower() in DETERMINERS):
        return []
    return words if any(role_stem(w) in ROLE_WORDS for w in words) else []


def near_spelling(a: str, b: str) -> bool:
    """One slip in a long name ("Whitkoff" for "Witkoff"): same first letter, difflib ratio >= 0.85."""
    # ratio() is at most 2·min(len)/(len a + len b): lengths too far apart rule a pair out before any matching
    if len(a) < 5 or not b or a[0] != b[0] or 2 * min(len(a), len(b)) < 0.85 * (len(a) + len(b)):
        return False
    matcher = SequenceMatcher(None, a, b)
    return matcher.quick_ratio() >= 0.85 and matcher.ratio() >= 0.85  # quick_ratio() is a cheaper upper bound
