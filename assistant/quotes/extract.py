"""Rule-based "who said what": quotes and reported speech in news articles, each with its resolved speaker."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from typing import Literal, NamedTuple

from assistant.ingest.passages import sentence_spans

Kind = Literal["direct", "reported"]


def _words(spaced: str) -> frozenset[str]:
    """A vocabulary set written as space-separated words."""
    return frozenset(spaced.split())


@dataclass(frozen=True)
class Statement:
    """Words attributed to one speaker; start/end index the article text and text == article[start:end]."""

    speaker: str  # canonical: the fullest name of that person (or organisation) in the article
    kind: Kind  # "direct": words in quotation marks; "reported": indirect speech
    start: int
    end: int
    text: str
    cue: str  # the attribution words as written, e.g. "he stressed", "Dmitriev told reporters"
    mention: str = ""  # how the cue names the speaker: "he", "Dmitriev", "Putin’s special envoy"


# ---------------------------------------------------------------------------------------------------------
# Vocabulary. Kept as plain sets so that the rules stay readable and any article (not just the sample) works.
# ---------------------------------------------------------------------------------------------------------

# Verbs that introduce what someone said or holds (cue verbs); matched case-sensitively in lower case.
_SPEECH_VERBS = _words(
    """said says say told tells stressed stresses noted notes added adds recalled recalls claimed claims
    believes believed thinks thought expressed expresses stated explained explains insisted insists argued
    argues warned warns emphasised emphasized emphasises emphasizes underlined underscored pointed points
    announced announces reported reports wrote writes declared declares asserted asserts acknowledged
    acknowledges admitted admits suggested suggests replied replies remarked commented confirmed confirms
    denied denies predicted predicts promised vowed vows threatened threatens continued concluded observed
    estimated revealed conceded complained maintained maintains assured reiterated reiterates clarified
    mentioned alleged alleges asked answered tweeted accused accuses blamed blames criticised criticized
    praised urged urges"""
)
# Verbs whose first complement is the addressee ("told CNN that ..."), skipped before the content.
_ADDRESSEE_VERBS = _words("told tells asked assured warned warns reminded informed")
# Participles that add a second statement after a cue: "..., Trump said, expressing confidence that ...".
_SPEECH_PARTICIPLES = _words(
    """adding noting saying stressing insisting warning arguing explaining claiming expressing voicing
    emphasising emphasizing pointing suggesting arguing predicting"""
)
# Words that may sit between a speaker and the verb ("Dmitriev also added", "Trump has said").
_AUXILIARIES = _words(
    """also has have had then later further earlier previously again recently reportedly repeatedly once
    publicly separately subsequently similarly himself herself often already privately just"""
)
_NEGATIONS = _words("not never n’t n't")
_PRONOUNS = {"he": "m", "she": "f", "him": "m", "her": "f"}
_DETERMINERS = _words("the a an")
_SUBJECT_PRONOUNS = _words("i you he she it we they")

# Titles and job words: in a capitalised run they precede the name ("US President Donald Trump"); in a
# lower-case noun phrase they head a role description ("the Russian negotiator").
_ROLE_WORDS = _words(
    """president envoy negotiator official head minister spokesman spokeswoman spokesperson ambassador
    ambassador-at-large senator sen rep representative congressman congresswoman lawmaker leader chief
    diplomat director secretary secretary-general chairman chairwoman chair ceo executive governor gov mayor
    chancellor premier king queen prince princess pope emir sheikh general gen commander admiral colonel col
    officer prosecutor judge attorney lawyer founder owner manager adviser advisor aide analyst economist
    expert source candidate nominee republican democrat politician mr mrs ms miss dr professor prof sir dame
    lord commissioner mediator correspondent editor researcher scientist activist campaigner businessman
    businesswoman billionaire investor banker coach captain author resident witness deputy vice
    president-elect vice-president special foreign defence defense top senior former prime press acting
    interim"""
)
# Role words that only modify a head ("special envoy"); they cannot be the head of a role description.
_ROLE_MODIFIERS = _words(
    """special foreign defence defense top senior former prime press
    acting interim deputy vice"""
)
_ROLE_HEADS = _ROLE_WORDS - _ROLE_MODIFIERS
# Lower-case words that may modify a role head in a speaker phrase ("the Kremlin official").
_NP_MODIFIERS = _words(
    """national security finance economic military trade government party company campaign opposition state
    federal regional local veteran longtime outgoing incoming new fund investment"""
)
_STEM_MAP = {
    "presidential": "president",
    "ministerial": "minister",
    "senatorial": "senator",
    "gubernatorial": "governor",
    "mayoral": "mayor",
    "diplomatic": "diplomat",
}
# A capitalised run holding one of these names an organisation or a place, never a person.
_ORG_WORDS = _words(
    """news house ministry department fund administration agency bank party council committee commission
    union university times post journal office court senate congress parliament government company corp
    corporation inc ltd group institute association foundation organisation organization army navy forces
    force guard police service network tv radio channel kremlin pentagon nations states kingdom republic
    federation street sea ocean war airlines club bureau authority board centre center programme program
    cabinet embassy media press reuters bloomberg"""
)
_CALENDAR = _words(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december"""
)
_NAME_PARTICLES = _words("de da di van von der den bin al el la le du dos del")
_PLACE_PREPOSITIONS = _words("in from near across throughout at outside inside into towards toward")
_NATIONALITY_EXCEPTIONS = _words("brian adrian christian julian vivian damian fabian lillian marian")
_ACRONYM_NATIONS = _words("us u.s. uk u.k. eu un")
# Words that open an introductory phrase ("At the same time, Dmitriev said ...").
_INTRO_WORDS = _words(
    """at in on following after before earlier later meanwhile however but and also separately speaking asked
    during when while last this for from with by then still yet now today yesterday instead moreover
    furthermore additionally nevertheless overall previously since under despite as amid addressing
    responding commenting writing referring in addition once"""
)
# Words allowed between a cue verb and "that" ("told CNN in an interview that ...").
_CUE_TAIL_WORDS = _words(
    """in on at with during after before to for from of a an the interview statement conference news press
    briefing response remarks comments post letter speech address reporters journalists however also later
    earlier recently last this week weekend month year day night morning evening separately previously
    again television radio broadcast podcast message video social media his her their its"""
)
_ADDRESSEES = _words(
    """reporters journalists lawmakers parliament me us him her them students supporters delegates viewers
    listeners congress"""
)
_ABBREVIATIONS = _words("mr. mrs. ms. dr. st. sen. rep. gov. gen. lt. col. prof. jr. sr. no.")
_TAIL_PREPOSITIONS = _words(
    """in on at with without during after before to for from of according as when by via amid despite
    although though because citing"""
)
_CONNECTORS = _words("and but while whereas although though as because so")
# Lower-case words that cannot be part of a description before a speaker's name ("union leader Maria Lopez"):
# function words, verbs and prepositions end it ("which union leader …", "and union leader …").
_NOT_DESCRIPTIVE = (
    _words("who whom whose which what where why how is was are were be been do does did will would can could if")
    | _DETERMINERS
    | _CONNECTORS
    | _NEGATIONS
    | _AUXILIARIES
    | _TAIL_PREPOSITIONS
    | _PLACE_PREPOSITIONS
    | _SPEECH_VERBS
)
_DESCRIPTION_WORDS = 5  # at most this many lower-case words describe a speaker ("the port authority’s chief executive")
# Prepositions of a description after an inverted cue's name: "said John Smith of the port authority."
_DESCRIPTION_TAIL = _words("of at from")

_OPENING_MARKS = {"“": "”", "«": "»", '"': '"', "‘": "’"}
_OPENING = re.compile("|".join(_OPENING_MARKS))
# a word (with inner hyphens, apostrophes and dots: "U.S.", "Trump’s"), or any other single visible character
_TOKEN = re.compile(r"(?P<word>[^\W_](?:[\w\-]|[’'](?=[^\W_])|\.(?=[^\W_]))*)|\S")
_SENTENCE_END = tuple('.!?:”"’)…')


# ---------------------------------------------------------------------------------------------------------
# Text layout: paragraphs, quotations, sentence-like units and tokens.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Quote:
    start: int  # opening mark
    end: int  # just after the closing mark (or the paragraph end when the quote runs on)
    cstart: int  # content
    cend: int


class _Tok(NamedTuple):  # a tuple, not a dataclass: articles have tens of thousands, built in a hot loop
    kind: str  # "w" word, "p" punctuation, "q" a whole quotation
    start: int
    end: int
    text: str


@dataclass
class _Paragraph:
    """A line of the article with its quotations and its sentence-like units, tokenised."""

    start: int
    end: int
    headline: bool
    quotes: list[_Quote]
    units: list[tuple[int, int]]
    unit_tokens: list[list[_Tok]]
    unit_runs: list[list[tuple[int, int]]]  # _cap_runs of each unit's tokens (asked for twice)


def _layout(text: str, sentences: list[tuple[int, int]] | None = None) -> list[_Paragraph]:
    """Paragraphs, quotations, units and tokens of a whole article."""
    if sentences is None:
        sentences = sentence_spans(text)
    layout, k = [], 0
    for start, end in _paragraphs(text):
        # The sentences overlapping the paragraph, clipped to it: a line's first sentence may start with the
        # line's indent, and a closing quote alone on a line is glued to the sentence above.
        while k < len(sentences) and sentences[k][1] <= start:
            k += 1
        spans, j = [], k
        while j < len(sentences) and sentences[j][0] < end:
            spans.append((max(sentences[j][0], start), min(sentences[j][1], end)))
            j += 1
        quotes = _quotes_in(text, start, end)
        quote_at = {q.start: q for q in quotes}
        units = _units(text, spans, quotes)
        tokens = [_tokenize(text, s, e, quote_at) for s, e in units]
        runs = [_cap_runs(toks) for toks in tokens]
        layout.append(_Paragraph(start, end, _is_headline(text, start, end), quotes, units, tokens, runs))
    return layout


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Non-empty lines, stripped: news text puts one paragraph on a line."""
    spans = []
    for m in re.finditer(r"[^\n]+", text):
        stripped = m.group().strip()
        if stripped:
            offset = m.start() + m.group().index(stripped)
            spans.append((offset, offset + len(stripped)))
    return spans


def _is_headline(text: str, start: int, end: int) -> bool:
    """Headlines, datelines and page furniture carry no terminal punctuation; their claims repeat the body."""
    return not text[start:end].rstrip().endswith(_SENTENCE_END) or len(text[start:end].split()) < 4


def _quotes_in(text: str, start: int, end: int) -> list[_Quote]:
    """Quotations of one paragraph; an unclosed double quote runs to the paragraph end (it goes on below)."""
    quotes, i = [], start
    while (m := _OPENING.search(text, i, end)) is not None:
        i, ch = m.start(), m.group()
        if not (ch == "‘" and i > start and text[i - 1].isalnum()):
            close = _closing_mark(text, i, end)
            if close is None and ch != "‘":
                quotes.append(_Quote(i, end, i + 1, end))
                break
            if close is not None:
                quotes.append(_Quote(i, close + 1, i + 1, close))
                i = close + 1
                continue
        i += 1
    return quotes


def _closing_mark(text: str, i: int, end: int) -> int | None:
    closing = _OPENING_MARKS[text[i]]
    j = text.find(closing, i + 1, end)
    # A right single quote followed by a letter is an apostrophe (Trump’s), not the end of a quote.
    while j != -1 and closing == "’" and j + 1 < end and text[j + 1].isalpha():
        j = text.find(closing, j + 1, end)
    return None if j == -1 else j


def _units(text: str, spans: list[tuple[int, int]], quotes: list[_Quote]) -> list[tuple[int, int]]:
    """Sentences of a paragraph, re-joined where Punkt cut inside a quotation or before "he said"."""
    units: list[tuple[int, int]] = []
    for s, e in spans:
        inside_quote = any(q.start < s < q.end for q in quotes)
        lower_start = text[s].islower()
        if units and (inside_quote or lower_start):
            units[-1] = (units[-1][0], e)
        else:
            units.append((s, e))
    return units


def _tokenize(text: str, start: int, end: int, quote_at: dict[int, _Quote]) -> list[_Tok]:
    """Words, punctuation and whole quotations (one token each, so quoted words never act as cues)."""
    toks, i = [], start
    while (m := _TOKEN.search(text, i, end)) is not None:
        s, i = m.span()
        if s in quote_at:
            q = quote_at[s]
            toks.append(_Tok("q", q.start, q.end, text[q.start : q.end]))
            i = q.end
        elif m.lastgroup == "word":
            if i < end and text[i] == "." and _is_abbreviation(m.group()):
                i += 1
            toks.append(_Tok("w", s, i, text[s:i]))
        else:
            toks.append(_Tok("p", s, i, text[s]))
    return toks


_INITIALS = re.compile(r"(?:[A-Z]\.)+[A-Z]")
_POSSESSIVE = ("'s", "’s")


def _is_abbreviation(word: str) -> bool:
    return (word + ".").lower() in _ABBREVIATIONS or _INITIALS.fullmatch(word) is not None


# ---------------------------------------------------------------------------------------------------------
# Word helpers.
# ---------------------------------------------------------------------------------------------------------


def _bare(word: str) -> str:
    """Word without a possessive ending."""
    return word[:-2] if word.endswith(_POSSESSIVE) else word  # (called for every word: no regex)


def _is_possessive(tok: _Tok) -> bool:
    return tok.kind == "w" and tok.text.endswith(_POSSESSIVE)


def _stem(word: str) -> str:
    """Lower-case role stem: possessive and plural dropped, "presidential" -> "president"."""
    w = _bare(word).lower().rstrip(".")
    w = _STEM_MAP.get(w, w)
    if w.endswith("s") and w[:-1] in _ROLE_WORDS:
        return w[:-1]
    return w


def _is_plural_role(word: str) -> bool:
    w = _bare(word).lower()
    return w.endswith("s") and w[:-1] in _ROLE_WORDS


def _is_cap(tok: _Tok) -> bool:
    return tok.kind == "w" and tok.text[0].isupper()


def _is_nationality(word: str) -> bool:
    w = word.lower()
    if w in _ACRONYM_NATIONS:
        return True
    return w.endswith(("ian", "ean", "ese", "ish")) and len(w) > 5 and w not in _NATIONALITY_EXCEPTIONS


def _is_acronym(word: str) -> bool:
    core = word[:-1] if word.endswith("s") else word
    return len(core) > 1 and core.replace(".", "").isupper()


def _adjectival(word: str) -> bool:
    return word.endswith(("al", "ian", "ior", "ive", "ic", "ary", "ese", "ish"))


# ---------------------------------------------------------------------------------------------------------
# The cast of an article: people and organisations, their name variants, roles and salience.
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Entity:
    name: str
    kind: str  # "person", "org" or "other" (an unnamed source such as "a person familiar with the talks")
    roles: dict[str, float] = field(default_factory=dict)  # role stem -> strength of the apposition
    gender: str | None = None

    def add_roles(self, words: Iterable[str], weight: float) -> None:
        for w in words:
            stem = _stem(w)
            if stem and stem not in _DETERMINERS and stem != "of":
                self.roles[stem] = max(self.roles.get(stem, 0.0), weight)


@dataclass
class _NameIndex:
    surname: dict[str, list[_Entity]]  # lower-case last name word -> persons
    initial: dict[str, list[tuple[str, _Entity]]]  # its first letter -> (lower-case last name word, person)
    first: dict[str, list[_Entity]]  # first name word -> persons


@dataclass
class _Cast:
    persons: dict[str, _Entity] = field(default_factory=dict)
    orgs: dict[str, _Entity] = field(default_factory=dict)
    others: dict[str, _Entity] = field(default_factory=dict)  # unnamed sources: "a senior Western diplomat"
    lower_words: set[str] = field(default_factory=set)  # words the text uses in lower case
    events: list[tuple[int, _Entity, int]] = field(default_factory=list)  # (offset, entity, paragraph)
    mentions: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (paragraph, offset)
    _index: _NameIndex | None = None  # persons by name parts, built lazily (names are looked up per mention)
    _near: dict[str, list[_Entity]] = field(default_factory=dict)  # cache of _near_or_first

    def add_person(self, full: str) -> _Entity:
        self.persons[full] = _Entity(full, "person")
        self._index, self._near = None, {}
        return self.persons[full]

    def rename_person(self, person: _Entity, full: str) -> None:
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

    def note_speaker(self, ent: _Entity, offset: int, para: int) -> None:
        self.events.append((offset, ent, para))
        self.mentions[ent.name] = (para, offset)

    def by_surname(self, word: str) -> list[_Entity]:
        return self.index.surname.get(_bare(word).lower(), [])

    def person_for(self, name_words: Sequence[str]) -> _Entity | None:
        """The person a name refers to: exact full name, then surname, then a near-miss spelling."""
        words = [_bare(w) for w in name_words]
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

    def _near_or_first(self, word: str) -> list[_Entity]:
        """Persons a lone word names other than by its exact surname (cached: asked for every mention).

        Articles misspell names ("Whitkoff" for "Witkoff"): one slip in a long surname is allowed. Names
        written surname first ("Xi Jinping") are met by their first word, if only one person has it.
        """
        if word not in self._near:
            lower = word.lower()
            # _near asks for the same first letter: only surnames with it are tried
            same_initial = self.index.initial.get(lower[0], []) if len(word) >= 6 else []
            near = [p for surname, p in same_initial if _near(surname, lower)]
            first = self.index.first.get(word, [])
            self._near[word] = near or (first if len(first) == 1 else [])
        return self._near[word]

    def org(self, name: str) -> _Entity:
        key = re.sub(r"^the\s+", "", name, flags=re.IGNORECASE).lower()
        if key not in self.orgs:
            self.orgs[key] = _Entity(name, "org")
        return self.orgs[key]


def _contains_name(full: Sequence[str], part: Sequence[str]) -> bool:
    """True when part ("Donald Trump") is an ordered subsequence of full ("Donald J. Trump")."""
    it = iter(w.lower() for w in full)
    return all(any(w.lower() == x for x in it) for w in part) and part[-1].lower() == full[-1].lower()


def _cap_runs(toks: list[_Tok]) -> list[tuple[int, int]]:
    """Token ranges of capitalised words (with name particles inside), e.g. "US President Donald Trump"."""
    runs, i = [], 0
    while i < len(toks):
        if not _is_cap(toks[i]):
            i += 1
            continue
        j = i + 1
        while j < len(toks) and not _is_possessive(toks[j - 1]):
            if _is_cap(toks[j]):
                j += 1
            elif toks[j].text in _NAME_PARTICLES and j + 1 < len(toks) and _is_cap(toks[j + 1]):
                j += 2
            else:
                break
        runs.append((i, j))
        i = j
    return runs


def _split_title(words: list[str]) -> tuple[list[str], list[str]]:
    """("US President Donald Trump") -> (["US", "President"], ["Donald", "Trump"])."""
    cut = 0
    for i, w in enumerate(words[:-1]):
        if _stem(w) in _ROLE_WORDS:
            cut = i + 1
    while len(words) - cut > 2 and _is_nationality(words[cut]):
        cut += 1  # "Russian Kirill Dmitriev": the nationality is a title, not a first name
    return words[:cut], words[cut:]


def _looks_like_person(words: list[str], cast: _Cast) -> bool:
    if not 2 <= len(words) <= 4:
        return False
    for w in words:
        low = _bare(w).lower().rstrip(".")
        if (
            low in _ORG_WORDS
            or low in _CALENDAR
            or low in _ROLE_WORDS
            or low in cast.lower_words
            or any(ch.isdigit() for ch in w)
            or _is_acronym(w)
            or _is_nationality(w)
            or sum(ch.isupper() for ch in w) > 2  # "HomeWorldEurope": words glued by page markup
        ):
            return False
    return True


def _drop_sentence_opener(toks: list[_Tok], run: tuple[int, int], cast: _Cast) -> tuple[int, int]:
    """A capitalised first word of a sentence is an ordinary word when the text also uses it in lower case."""
    i, j = run
    if i == 0 and j - i > 1 and toks[i].text.lower() in cast.lower_words:
        return i + 1, j
    return run


def _collect_cast(text: str, layout: list[_Paragraph]) -> _Cast:
    """First pass: every full personal name in the text and the roles appositions give them."""
    cast = _Cast(lower_words={w for w in re.findall(r"\b[a-z][a-z\-]+\b", text)})
    runs_seen: list[tuple[list[_Tok], tuple[int, int]]] = []
    for para in layout:
        for toks, runs in zip(para.unit_tokens, para.unit_runs, strict=True):
            for run in runs:
                run = _drop_sentence_opener(toks, run, cast)
                runs_seen.append((toks, run))
                if not para.headline:  # breadcrumbs and furniture ("Most Popular") name nobody
                    _register_name(toks, run, cast)
    for toks, run in runs_seen:
        _link_roles(toks, run, cast)
    return cast


def _register_name(toks: list[_Tok], run: tuple[int, int], cast: _Cast) -> None:
    i, j = run
    words = [_bare(t.text) for t in toks[i:j]]
    title, name = _split_title(words)
    if i > 0 and not title and toks[i - 1].text.lower() in _PLACE_PREPOSITIONS:
        return  # "from South Carolina": a place
    if not _looks_like_person(name, cast):
        if any(w.lower() in _ORG_WORDS for w in words):
            det = "the " if i > 0 and toks[i - 1].text.lower() == "the" else ""
            cast.org(det + " ".join(words))
        return
    full = " ".join(name)
    existing = cast.person_for(name)
    if existing is None:
        cast.add_person(full)
    elif len(name) > len(existing.name.split()):
        cast.rename_person(existing, full)  # the fullest form is canonical ("Donald J. Trump")
    if title and _stem(title[-1]) in {"mr", "mrs", "ms", "miss"}:
        cast.person_for(name).gender = "m" if _stem(title[-1]) == "mr" else "f"


def _link_roles(toks: list[_Tok], run: tuple[int, int], cast: _Cast) -> None:
    """Role words around a name: "US special envoy Steve Witkoff", "Miroshnik, Ambassador-at-Large of …"."""
    i, j = run
    words = [_bare(t.text) for t in toks[i:j]]
    title, name = _split_title(words)
    person = cast.person_for(name)
    if person is None:
        return
    before = _role_words_before(toks, i)
    pre = before + title
    if any(_stem(w) in _ROLE_WORDS for w in pre):
        person.add_roles(pre, 0.5 if any(_is_plural_role(w) for w in pre) else 1.0)
    appos = _apposition_after(toks, j)
    if appos:
        person.add_roles(appos, 1.0)
    if i >= 2 and toks[i - 1].text == "," and _stem(toks[i - 2].text) in _ROLE_HEADS:
        # "The company’s chief executive, Maria Lopez, …"
        start = _speaker_before(toks, i - 2)
        if start is not None:
            person.add_roles([t.text for t in toks[start : i - 1] if not _is_possessive(t)], 1.0)


def _role_words_before(toks: list[_Tok], i: int) -> list[str]:
    """Lower-case role words and capitalised modifiers right before a name: "the Russian negotiator"."""
    k = i
    while k > 0:
        t = toks[k - 1]
        if t.kind != "w" or t.text.lower() in _DETERMINERS:
            break
        if not (_is_cap(t) or _stem(t.text) in _ROLE_WORDS or _adjectival(t.text.lower())):
            break
        k -= 1
    return [t.text for t in toks[k:i]]


def _apposition_after(toks: list[_Tok], j: int) -> list[str]:
    """Role words of an apposition after a name (", Ambassador-at-Large of the Russian Foreign Ministry,")."""
    if j >= len(toks) or toks[j].text != ",":
        return []
    k = j + 1
    while k < len(toks) and toks[k].kind == "w" and k - j <= 12:
        k += 1
    words = [t.text for t in toks[j + 1 : k]]
    if k >= len(toks) or toks[k].text not in ",." or not words:
        return []
    if not (words[0][0].isupper() or words[0].lower() in _DETERMINERS):
        return []
    return words if any(_stem(w) in _ROLE_WORDS for w in words) else []


# ---------------------------------------------------------------------------------------------------------
# Resolving who a speaker phrase means.
# ---------------------------------------------------------------------------------------------------------


def _resolve_pronoun(word: str, cast: _Cast, offset: int) -> _Entity | None:
    """The most recent salient person (subject or speaker) whose known gender fits the pronoun."""
    gender = _PRONOUNS[word.lower()]
    for pos, ent, _ in reversed(cast.events):
        if pos < offset and ent.kind == "person" and ent.gender in (None, gender):
            ent.gender = gender
            return ent
    return None


def _last_person_speaker(cast: _Cast, offset: int) -> _Entity | None:
    """The latest person (or unnamed source) that spoke or opened a sentence before offset."""
    for pos, ent, _ in reversed(cast.events):
        if pos < offset and ent.kind in ("person", "other"):
            return ent
    return None


def _resolve_it(cast: _Cast, offset: int, para: int) -> _Entity | None:
    """For "it said" / "they said": the organisation or group that spoke last, here or a paragraph before."""
    for pos, ent, p in reversed(cast.events):
        if pos < offset and p >= para - 1 and ent.kind in ("org", "other"):
            return ent
    return None


def _resolve_role(
    words: list[str],
    exclude: set[str],
    cast: _Cast,
    offset: int,
    para: int,
    affinity: frozenset[str] = frozenset(),
) -> _Entity:
    """A role description ("the Russian negotiator") -> the person it names in this article.

    Roles learnt from appositions dominate; recency (the last speaker, people of this or the previous
    paragraph) breaks ties and covers roles the article never spells out ("the official").
    """
    content = [w for w in words if w.lower() not in _DETERMINERS]
    if not content:
        return _unnamed(words, cast)
    if words[0].lower() in {"a", "an"} or _is_plural_role(content[-1]):
        return _unnamed(words, cast)  # "a spokesman", "officials": unnamed sources stay as written
    head, mods = _stem(content[-1]), {_stem(w) for w in content[:-1]}
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


def _unnamed(words: list[str], cast: _Cast) -> _Entity:
    """An unnamed source kept as written ("a senior Western diplomat"), so "the diplomat" finds it later."""
    name = " ".join(words)
    if words[0] in ("The", "A", "An") or _stem(words[0]) in _ROLE_WORDS:
        name = name[0].lower() + name[1:]  # capitalised only because it opens the sentence: "Officials said"
    if name.lower() not in cast.others:
        ent = _Entity(name, "other")
        ent.add_roles(words, 1.0)
        cast.others[name.lower()] = ent
    return cast.others[name.lower()]


def _resolve_speaker(toks: list[_Tok], cast: _Cast, para: int) -> _Entity | None:
    """The entity a speaker phrase (tokens) refers to, or None when it names nobody."""
    words = [t.text for t in toks if t.kind == "w"]
    if not words:
        return None
    offset = toks[0].start
    if len(words) == 1 and words[0].lower() in _PRONOUNS:
        return _resolve_pronoun(words[0], cast, offset)
    if len(words) == 1 and words[0].lower() in ("it", "they"):
        return _resolve_it(cast, offset, para)
    poss = max((k for k, t in enumerate(toks) if _is_possessive(t)), default=-1)
    if poss >= 0:
        # "Putin’s special envoy": a role of someone other than the possessor.
        owner = cast.person_for([t.text for t in toks[: poss + 1] if _is_cap(t)] or ["-"])
        rest = [t.text for t in toks[poss + 1 :]]
        if rest and rest[-1][0].isupper() and (named := cast.person_for(_split_title(rest)[1])) is not None:
            return named  # "Putin’s special envoy Kirill Dmitriev": the person named
        return _resolve_role(rest, {owner.name} if owner else set(), cast, offset, para) if rest else None
    last = words[-1]
    if _stem(last) in _ROLE_HEADS:
        return _resolve_role(words, set(), cast, offset, para)
    if not last[0].isupper():
        return None
    return _resolve_name(words, cast)


def _resolve_name(words: list[str], cast: _Cast) -> _Entity:
    det = words[0].lower() == "the"
    core = words[1:] if det else words
    if len(core) > 2 and core[0].lower() in _CONNECTORS:
        core = core[1:]  # "But James Laurenceson, director of …, said": the sentence's first word is no name
    title, name = _split_title(core)
    person = cast.person_for(name)
    if person is not None:
        return person
    if len(name) > 1 and _looks_like_person(name, cast):
        return cast.add_person(" ".join(name))
    # A lone unknown capitalised word ("Bloomberg", "Moscow") or an institution: an organisation.
    return cast.org(("the " if det else "") + " ".join(core))


def _record_mentions(
    toks: list[_Tok], runs: list[tuple[int, int]], cast: _Cast, para: int
) -> tuple[_Entity, int, int] | None:
    """Note the people a unit names (outside quotes), for recency.

    A person opening the sentence (after an introductory phrase at most) is salient for pronouns; it is
    returned as (person, first token, first token after the name).
    """
    subject = None
    for run in runs:
        i, j = _drop_sentence_opener(toks, run, cast)
        _, name = _split_title([_bare(t.text) for t in toks[i:j]])
        person = cast.person_for(name)
        if person is None:
            continue
        cast.mentions[person.name] = (para, toks[i].start)
        follows = toks[j] if j < len(toks) else None
        k = i - len(_role_words_before(toks, i))  # "Opposition leader Mark Benton"
        k = k - 1 if k > 0 and toks[k - 1].text.lower() == "the" else k
        opens = k == 0 or (toks[k - 1].text == "," and _is_intro(toks[: k - 1])) or _is_dateline(toks[:k])
        verb_follows = follows is not None and (follows.kind == "q" or follows.text.islower())
        if subject is None and opens and verb_follows:
            cast.events.append((toks[i].start, person, para))
            subject = (person, i, j)
    return subject


# ---------------------------------------------------------------------------------------------------------
# Cues: "X said", "“…,” he said", "according to X", and what each introduces.
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Cue:
    sp_start: int  # token index where the speaker phrase starts
    sp_end: int  # token index just after the speaker phrase
    verb_end: int  # token index just after the cue words (verb, and "out" of "pointed out")
    position: str  # "start": the statement follows the cue; "end": it precedes it
    lead: int  # token index where the cue words start ("according", "said" of "said Dmitriev", the speaker)
    according: bool = False
    person: bool = False  # a lower-case description names the speaker: only a person counts ("union leader X")


def _is_dateline(prefix: list[_Tok]) -> bool:
    """A dateline such as "BERLIN —" or "WASHINGTON (Reuters) -" before the first sentence."""
    words = [t for t in prefix if t.kind == "w"]
    capitals = all(t.text.isupper() or t.text == "Reuters" for t in words)
    return bool(words) and prefix[-1].text in "—–-" and capitals


def _is_intro(prefix: list[_Tok]) -> bool:
    """An introductory adverbial such as "At the same time" or "In an interview with NBC"."""
    if not prefix:
        return True
    if any(t.kind == "q" for t in prefix) or len(prefix) > 10:
        return False
    first = prefix[0].text.lower()
    return first in _INTRO_WORDS or first in _CALENDAR


def _speaker_before(toks: list[_Tok], j: int) -> int | None:
    """Start index of a speaker phrase ending at token j ("he", "Dmitriev", "the Kremlin official")."""
    t = toks[j]
    if t.kind != "w":
        return None
    if t.text.lower() in ("he", "she", "it", "they"):
        return j
    if not ((_is_cap(t) and not _is_possessive(t)) or _stem(t.text) in _ROLE_HEADS):
        return None
    i = j
    while i > 0:
        p = toks[i - 1]
        low = p.text.lower()
        if p.kind != "w":
            break
        if low in _DETERMINERS:
            i -= 1
            if i > 0 and toks[i - 1].text == "of":  # "head of the Russian Direct Investment Fund"
                i -= 1
                continue
            break
        if _is_cap(p) or _is_possessive(p) or low in _ROLE_WORDS or low in _NP_MODIFIERS or low == "of":
            i -= 1
            continue
        if _adjectival(low) and i < j:
            i -= 1
            continue
        break
    while i < j and toks[i].text == "of":
        i += 1
    return i


def _is_descriptive(tok: _Tok) -> bool:
    """A lower-case word that may describe a speaker before the name: "union", "port", "authority’s"."""
    return _is_plain_lower(tok) and _bare(tok.text) not in _NOT_DESCRIPTIVE and not any(c.isdigit() for c in tok.text)


def _is_description(toks: list[_Tok], s: int, e: int) -> bool:
    """Do toks[s:e] describe the person named right after them? An article at most, then a few lower-case words
    ending in a role word: "union leader", "spokesman", "the port authority’s chief executive"."""
    words = toks[s + 1 : e] if _text_at(toks, s).lower() in _DETERMINERS else toks[s:e]
    if not 0 < len(words) <= _DESCRIPTION_WORDS or not all(_is_descriptive(t) for t in words):
        return False
    return e < len(toks) and _is_cap(toks[e]) and words[-1].text in _ROLE_WORDS  # one person: not "professors"


def _description_before(toks: list[_Tok], i: int, j: int) -> int | None:
    """Start of a lower-case description that begins a speaker phrase toks[i:j+1] before its name, when it reaches
    further back than i: "union" of "“…,” union leader Maria Lopez said" (None when there is none)."""
    n = j  # the name: the capitalised words ending at j
    while n > 0 and _is_cap(toks[n - 1]):
        n -= 1
    s = n
    while s > 0 and n - s < _DESCRIPTION_WORDS and _is_descriptive(toks[s - 1]):
        s -= 1
    if s > 0 and toks[s - 1].text.lower() in _DETERMINERS:
        s -= 1
    return s if s < i and _is_name_end(toks[j]) and _is_description(toks, s, n) else None


def _is_name_end(tok: _Tok) -> bool:
    """A capitalised last word that is not a title: "Lopez", not "Director" (of "… Director of Content")."""
    return _is_cap(tok) and _stem(tok.text) not in _ROLE_WORDS


def _skip_back_insert(toks: list[_Tok], j: int) -> int:
    """Step over ", citing X," / ", quoting X," between a speaker and the verb."""
    for k in range(j, max(j - 10, 0), -1):
        if toks[k].kind == "p" and toks[k].text in ".;":
            break
        if toks[k].text in ("citing", "quoting") and k > 0 and toks[k - 1].text == ",":
            return k - 2
    return j


def _cue_at(toks: list[_Tok], v: int) -> _Cue | None:
    """The cue whose verb is token v, with its speaker phrase and whether it opens or closes its statement."""
    j = v - 1
    while j >= 0 and toks[j].kind == "w" and (toks[j].text in _AUXILIARIES or toks[j].text.endswith("ly")):
        j -= 1
    if j < 0 or toks[j].text in _NEGATIONS:
        return None
    j = _skip_back_insert(toks, j)
    if j < 0:
        return None
    if toks[j].text == ",":
        start, end, anchor = _apposition_speaker(toks, j)
    else:
        start = anchor = _speaker_before(toks, j)
        end = j + 1
    if start is None or anchor is None:
        return _inverted_cue(toks, v)
    verb_end = v + 2 if toks[v].text in ("pointed", "points") and _text_at(toks, v + 1) == "out" else v + 1
    position = _position(toks, anchor)
    described = position is None and (d := _description_before(toks, anchor, j)) is not None
    if described:
        # "“…,” union leader Maria Lopez said": lower-case words the role words do not cover ("union") open it.
        start = anchor = d
        position = _position(toks, anchor)
    if position is None:
        return None
    return _Cue(start, end, verb_end, position, anchor, person=described)


def _apposition_speaker(toks: list[_Tok], j: int) -> tuple[int | None, int, int | None]:
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
    if all(_is_cap(t) for t in toks[c + 1 : j]) and _stem(toks[c - 1].text) in _ROLE_HEADS:
        return c + 1, j, _speaker_before(toks, c - 1)
    relative = words[0].lower() in ("who", "whose")
    # "Frieden, president and CEO of Resolve to Save Lives, told": a (singular) lower-case role word may open it
    if not (relative or words[0][0].isupper() or words[0] in _DETERMINERS | _ROLE_WORDS):
        return None, j, None
    if not (relative or any(_stem(w) in _ROLE_WORDS for w in words)):
        return None, j, None
    if not (_is_cap(toks[c - 1]) or (relative and _stem(toks[c - 1].text) in _ROLE_HEADS)):
        return None, j, None
    start = _speaker_before(toks, c - 1)
    return start, c, start


def _inverted_cue(toks: list[_Tok], v: int) -> _Cue | None:
    """Inverted cue: "“…,” said Dmitriev." — verb first, then the speaker, then the end of the sentence.

    A lower-case description may come before the name ("said union leader Maria Lopez") or after it ("said
    John Smith of the port authority"); the speaker must then be a person.
    """
    if v == 0 or not (toks[v - 1].kind == "q" or toks[v - 1].text == ",") or toks[v].text in ("told", "tells"):
        return None  # "…,” told CNN’s Anderson Cooper": who follows "told" is the addressee
    k = v + 1
    while k < len(toks) and k - v <= _DESCRIPTION_WORDS + 1 and not _is_cap(toks[k]):
        k += 1
    described = _is_description(toks, v + 1, k)
    k = k if described else v + 1
    while k < len(toks) and (_is_cap(toks[k]) or toks[k].text.lower() in _DETERMINERS | _ROLE_WORDS):
        k += 1
    if k == v + 1 or not _is_cap(toks[k - 1]):
        return None
    end = k
    if _text_at(toks, k) in _DESCRIPTION_TAIL:
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
    return _Cue(v + 1, k, end, "end", v, person=described)


def _text_at(toks: list[_Tok], i: int) -> str:
    return toks[i].text if 0 <= i < len(toks) else ""


def _position(toks: list[_Tok], start: int) -> str | None:
    """Does a speaker phrase open a clause ("start") or close one ("end")? None inside another clause."""
    if start == 0:
        return "start"
    prev = toks[start - 1]
    if prev.kind == "q":
        return "end"
    if prev.text.lower() in _CONNECTORS or prev.text == ";":
        return "start"
    if prev.text == ",":
        return "start" if _is_intro(toks[: start - 1]) else "end"
    return None


def _according_cue(toks: list[_Tok], a: int) -> _Cue | None:
    """Cue "According to X, …" / "…, according to X." with the speaker phrase after "to"."""
    if _text_at(toks, a + 1) != "to":
        return None
    k = a + 2
    while k < len(toks) and toks[k].kind == "w" and k - a < 10:
        k += 1
    words = [t.text for t in toks[a + 2 : k]]
    if not words or not (any(w[0].isupper() for w in words) or words[-1].lower() in ("him", "her")):
        return None
    if a == 0 or (toks[a - 1].text == "," and _is_intro(toks[: a - 1])):
        return _Cue(a + 2, k, k, "start", a, according=True)
    if toks[a - 1].text == "," and (k >= len(toks) or toks[k].text in ".;"):
        return _Cue(a + 2, k, k, "end", a, according=True)
    return None


def _find_cues(toks: list[_Tok]) -> list[_Cue]:
    cues: list[_Cue] = []
    for v, t in enumerate(toks):
        if t.kind != "w":
            continue
        cue = None
        if t.text in _SPEECH_VERBS:
            cue = _cue_at(toks, v)
        elif t.text.lower() == "according":
            cue = _according_cue(toks, v)
        if cue is not None and not any(c.sp_start <= cue.sp_start < c.verb_end for c in cues):
            cues.append(cue)
    return cues


# ---------------------------------------------------------------------------------------------------------
# From a cue to the statement span.
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    """A statement found in a unit, before spans are cleaned."""

    start: int
    end: int
    speaker: _Entity
    cue: str
    mention: str


def _content_after(toks: list[_Tok], cue: _Cue, limit: int) -> tuple[int, int] | None:
    """Token range of what a cue at the start of a clause introduces ("X told CNN that <content>")."""
    k = cue.verb_end
    if k >= limit:
        return None
    if toks[k].text in (",", ":") and k + 1 < limit and (toks[k].text == ":" or toks[k + 1].kind == "q"):
        return (k + 1, limit)
    addressed = not cue.according and toks[k - 1].text in _ADDRESSEE_VERBS
    if addressed:
        k = _skip_addressee(toks, k, limit)
    that = _that_ahead(toks, k, limit, loose=addressed)
    if that is not None:
        return (that + 1, limit)
    if cue.according and toks[k].text == ",":
        k += 1
    while k < limit and toks[k].text in (",", ":"):
        k += 1
    return (k, limit) if k < limit else None


def _skip_addressee(toks: list[_Tok], k: int, limit: int) -> int:
    """Step over the addressee of "told"/"asked": "CNN", "FOX News", "reporters", "the broadcaster ZDF"."""
    if k < limit and toks[k].text.lower() in _DETERMINERS:
        k += 1
        nouns = 0  # "the broadcaster", "the news agency": at most two lower-case nouns
        while k < limit and nouns < 2 and _is_plain_lower(toks[k]):
            k += 1
            nouns += 1
    if k < limit and _is_cap(toks[k]):
        while k < limit and _is_cap(toks[k]):
            k += 1
    elif k < limit and toks[k].text.lower() in _ADDRESSEES:
        k += 1
    return k


def _is_plain_lower(tok: _Tok) -> bool:
    low = tok.text.lower()
    return tok.kind == "w" and tok.text.islower() and low != "that" and low not in _SUBJECT_PRONOUNS


def _that_ahead(toks: list[_Tok], k: int, limit: int, loose: bool = False) -> int | None:
    """Index of a complementiser "that" after only adverbials ("in an interview with Fox News that").

    loose: after "told"/"asked" any few words may come first ("told the broadcaster ZDF that").
    """
    for m in range(k, min(limit, k + (6 if loose else 12))):
        t = toks[m]
        if t.text == "that":
            return m
        if t.kind == "q" or (t.kind == "p" and t.text != ","):
            return None
        known = _is_cap(t) or t.text.lower() in _CUE_TAIL_WORDS or t.text.endswith("ly")
        if t.kind == "w" and not (known or loose):
            return None
    return None


def _unit_statements(toks: list[_Tok], cues: list[_Cue], cast: _Cast, para: int, text: str) -> list[_Pending]:
    """Statements of one unit, resolving each cue's speaker in reading order."""
    found: list[_Pending] = []
    for n, cue in enumerate(cues):
        speaker_toks = toks[cue.sp_start : cue.sp_end]
        ent = _resolve_speaker(speaker_toks, cast, para)
        if ent is None or (cue.person and ent.kind != "person"):
            continue
        mention = text[speaker_toks[0].start : speaker_toks[-1].end]
        cue_end = max(cue.verb_end, cue.sp_end)
        if toks[cue_end - 1].text in _ADDRESSEE_VERBS:
            cue_end = _skip_addressee(toks, cue_end, len(toks))  # "told reporters", "told FOX News"
        cue_text = text[toks[cue.lead].start : toks[cue_end - 1].end]
        for s, e in _cue_spans(toks, cues, n):
            found.append(_Pending(toks[s].start, toks[e - 1].end, ent, cue_text, mention))
        cast.note_speaker(ent, speaker_toks[0].start, para)
    return found


def _cue_spans(toks: list[_Tok], cues: list[_Cue], n: int) -> list[tuple[int, int]]:
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
        elif nxt.text in _SPEECH_PARTICIPLES and spans:
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


def _continues_clause(tok: _Tok) -> bool:
    """After ", he said," does the sentence go on with its clause (not a tail like "without elaborating")?"""
    low = tok.text.lower()
    if tok.kind != "w" or not tok.text[0].islower():
        return False
    return low in _CONNECTORS or not (low.endswith("ing") or low in _TAIL_PREPOSITIONS)


def _finish(text: str, pending: _Pending, quotes: list[_Quote]) -> list[Statement]:
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


def _make(text: str, s: int, e: int, kind: Kind, pending: _Pending) -> Statement:
    s, e = _trim(text, s, e)
    return Statement(pending.speaker.name, kind, s, e, text[s:e], pending.cue, pending.mention)


# ---------------------------------------------------------------------------------------------------------
# Public API.
# ---------------------------------------------------------------------------------------------------------


def statement_rows(article_id: str, text: str, sentences: list[tuple[int, int]] | None = None) -> list[dict]:
    """An article's statements as the index stores them (one dict each, with the article's id)."""
    return [{"article_id": article_id, **asdict(s)} for s in extract_statements(text, sentences)]


def extract_statements(text: str, sentences: list[tuple[int, int]] | None = None) -> list[Statement]:
    """All statements in an article's text, in order, each with its resolved speaker; sentences are the text's
    sentence_spans when the caller has them already (splitting into passages made them)."""
    layout = _layout(text, sentences)
    cast = _collect_cast(text, layout)
    statements: list[Statement] = []
    seen: set[tuple[int, int]] = set()
    last: _Pending | None = None  # the latest statement, which a bare quote may continue
    colon: _Pending | None = None  # "Dmitriev also added:" waiting for the quote in the next paragraph
    for p, para in enumerate(layout):
        if para.headline:
            colon = None
            continue
        for u, (toks, runs) in enumerate(zip(para.unit_tokens, para.unit_runs, strict=True)):
            subject = _record_mentions(toks, runs, cast, p)
            found = _unit_statements(toks, _find_cues(toks), cast, p, text)
            if not found and _is_pure_quote(toks):
                # A bare quote goes on from its own paragraph, or (opening one) from the paragraph before.
                floor = para.start if u > 0 or p == 0 else layout[p - 1].start
                found = _continued_quote(toks, colon, last, floor, u)
            if not found and subject is not None:
                found = _participle_statement(toks, subject, text) or _fragment_statement(toks, subject, text)
            ends_with_colon = bool(toks) and toks[-1].text == ":"
            colon = _colon_cue(toks, cast, p, text) if ends_with_colon and not found else None
            for item in found:
                for st in _finish(text, item, para.quotes):
                    for one in [st, *_nested_statements(text, st, item.speaker, cast, p)]:
                        if one.text and (one.start, one.end) not in seen:
                            seen.add((one.start, one.end))
                            statements.append(one)
            last = found[-1] if found else last
    return sorted(statements, key=lambda st: st.start)


def _is_pure_quote(toks: list[_Tok]) -> bool:
    return bool(toks) and toks[0].kind == "q" and all(t.kind == "p" for t in toks[1:])


def _colon_cue(toks: list[_Tok], cast: _Cast, para: int, text: str) -> _Pending | None:
    """A cue closing a paragraph ("Dmitriev also added:", "He also claimed:"): the next quote's speaker."""
    v = len(toks) - 2
    if v < 1 or toks[v].text not in _SPEECH_VERBS:
        return None
    cue = _cue_at(toks, v)
    if cue is None:
        return None
    speaker_toks = toks[cue.sp_start : cue.sp_end]
    ent = _resolve_speaker(speaker_toks, cast, para)
    if ent is None or (cue.person and ent.kind != "person"):
        return None
    cast.note_speaker(ent, speaker_toks[0].start, para)
    mention = text[speaker_toks[0].start : speaker_toks[-1].end]
    return _Pending(0, 0, ent, text[speaker_toks[0].start : toks[v].end], mention)


def _continued_quote(
    toks: list[_Tok], colon: _Pending | None, last: _Pending | None, floor: int, u: int
) -> list[_Pending]:
    """A quotation with no cue of its own: announced by a colon, or the last speaker (past floor) going on."""
    q = toks[0]
    if colon is not None and u == 0:
        return [_Pending(q.start, q.end, colon.speaker, colon.cue, colon.mention)]
    if last is not None and last.speaker.kind != "org" and last.start >= floor:
        return [_Pending(q.start, q.end, last.speaker, last.cue, last.mention)]
    return []


def _participle_statement(toks: list[_Tok], subject: tuple[_Entity, int, int], text: str) -> list[_Pending]:
    """The subject's words after ", saying": "Scholz rejected tax cuts, saying the country could not pay"."""
    person, i, j = subject
    for m in range(j, len(toks) - 2):
        if toks[m].text == "," and toks[m + 1].text in _SPEECH_PARTICIPLES:
            k = m + 2
            if toks[k].text != "that":
                that = [n for n in range(k, min(len(toks), k + 4)) if toks[n].text == "that"]
                if toks[m + 1].text != "saying" and not that:
                    continue  # "adding", "noting" … need "that"; "saying" may drop it
                k = that[0] if that else k - 1
            name = text[toks[i].start : toks[j - 1].end]
            cue = f"{name} … {toks[m + 1].text}"
            return [_Pending(toks[k + 1].start, toks[-1].end, person, cue, name)]
    return []


def _fragment_statement(toks: list[_Tok], subject: tuple[_Entity, int, int], text: str) -> list[_Pending]:
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
    return [_Pending(toks[j + 1].start, toks[-1].end, person, cue, text[toks[i].start : toks[j - 1].end])]


# "…NATO, as our president said, is not possible…": someone else's words cited inside a statement.
_NESTED_CUE = re.compile(
    r",\s+as\s+(?P<who>[^,;:.“”\"]{2,40}?)\s+(?:has\s+|had\s+|also\s+)?"
    r"(?:said|noted|stressed|stated|put it|pointed out|warned|explained|emphasi[sz]ed),\s*"
)


def _nested_statements(text: str, st: Statement, speaker: _Entity, cast: _Cast, para: int) -> list[Statement]:
    """Statements cited inside another one ("as our president said"), given to the one cited."""
    found = []
    for m in _NESTED_CUE.finditer(st.text):
        who = _tokenize(text, st.start + m.start("who"), st.start + m.end("who"), {})
        words = [t.text for t in who]
        if words[0].lower() in ("our", "my"):
            # "our president": the president of the speaker's own country.
            affinity = frozenset(r for r in speaker.roles if _is_nationality(r))
            ent = _resolve_role(words[1:], {speaker.name}, cast, who[0].start, para, affinity)
        elif words[0].lower() in _PRONOUNS:
            continue
        else:
            ent = _resolve_speaker(who, cast, para)
        if ent is None or ent is speaker or ent.kind == "other":
            continue
        before = st.text[: m.start()]
        opener = max((b.end() for b in re.finditer(r"[.;:!?]\s+|\bthat\s+", before)), default=0)
        after = re.search(r"[,;.!?]|$", st.text[m.end() :])
        s, e = st.start + opener, st.start + m.end() + after.start()
        found.append(Statement(ent.name, "reported", s, e, text[s:e], m.group().strip(" ,"), " ".join(words)))
    return found


def speaker_names(statements: list[Statement]) -> dict[str, set[str]]:
    """Canonical speaker -> name variants seen (e.g. {"Kirill Dmitriev": {"Kirill Dmitriev", "Dmitriev"}})."""
    names: dict[str, set[str]] = {}
    for st in statements:
        variants = names.setdefault(st.speaker, {st.speaker})
        canon = {w.lower() for w in st.speaker.split()}
        words = [_bare(w) for w in re.findall(r"[^\W\d_][\w\-’'.]*", st.mention)]
        while words and words[0].lower() not in canon:
            words = words[1:]  # titles: "US President Donald Trump" -> "Donald Trump"
        variant = " ".join(words)
        if variant and variant[0].isupper() and f" {variant.lower()} " in f" {st.speaker.lower()} ":
            variants.add(variant)
    return names


def _normalise_name(name: str) -> list[str]:
    """Lower-case name words without possessives, titles or articles: "President Trump's" -> ["trump"]."""
    words = [_bare(w).lower().rstrip(".") for w in re.findall(r"[^\W\d_][\w\-’'.]*", name)]
    words = [w for w in words if w not in _DETERMINERS]
    while len(words) > 1 and (w := words[0]) and (w in _ROLE_WORDS or _is_nationality(w)):
        words = words[1:]
    return words


def match_speaker(name: str, statements: Sequence[Statement]) -> str | None:
    """Canonical speaker a name in a question refers to ("Dmitriev", "kirill dmitriev", "Trump's") or None."""
    query = _normalise_name(name)
    if not query:
        return None
    names = speaker_names(list(statements))
    counts: dict[str, int] = {}
    for st in statements:
        counts[st.speaker] = counts.get(st.speaker, 0) + 1
    scored = []
    for canon, variants in names.items():
        for variant in variants | {canon}:
            words = _normalise_name(variant)
            if words == query:
                scored.append((3, counts[canon], canon))
            elif words and (set(query) <= set(words) or set(words) <= set(query)) and query[-1] == words[-1]:
                scored.append((2, counts[canon], canon))  # "Dmitriev", "Donald J. Trump"
            elif words and set(query) <= set(words):
                scored.append((1.5, counts[canon], canon))  # "Kirill", "Xi"
            elif words and len(query) == 1 and _near(query[0], words[-1]):
                scored.append((1, counts[canon], canon))
    if not scored:
        return _match_by_role(query, statements)
    return max(scored)[2]


def _near(a: str, b: str) -> bool:
    """One slip in a long name ("Whitkoff" for "Witkoff"): same first letter, difflib ratio >= 0.85."""
    # ratio() is at most 2·min(len)/(len a + len b): lengths too far apart rule a pair out before any matching
    if len(a) < 5 or not b or a[0] != b[0] or 2 * min(len(a), len(b)) < 0.85 * (len(a) + len(b)):
        return False
    matcher = SequenceMatcher(None, a, b)
    return matcher.quick_ratio() >= 0.85 and matcher.ratio() >= 0.85  # quick_ratio() is a cheaper upper bound


def _match_by_role(query: list[str], statements: Sequence[Statement]) -> str | None:
    """A role ("the special envoy") -> the one speaker the article's cues called that, if only one."""
    wanted = {_stem(w) for w in query}
    if not wanted & _ROLE_HEADS:
        return None
    hits = {st.speaker for st in statements if wanted <= {_stem(w) for w in st.mention.split()}}
    return hits.pop() if len(hits) == 1 else None


_QUESTION_VERBS = (
    r"say|said|saying|claim|claimed|tell|told|think|thought|believe|believed|argue|argued|state|stated|"
    r"write|wrote|comment|commented|predict|predicted|warn|warned|announce|announced|reveal|revealed|"
    r"suggest|suggested|mean|meant|reply|replied|respond|responded|admit|admitted|stress|stressed|"
    r"note|noted|add|added|promise|promised|deny|denied|feel|have to say|make of"
)
# Prepositions that introduce the topic, strongest first: "say to reporters about the talks" -> "the talks".
_TOPIC_PREPS = (
    ("about",),
    ("regarding", "concerning", "with regard to", "in relation to", "in response to"),
    ("on", "of", "over"),
    ("to",),
)
_ALL_TOPIC_PREPS = "|".join(p for group in _TOPIC_PREPS for p in group)
_VERB_QUESTION = re.compile(
    rf"^(?:what|how)\s+(?:did|does|do|has|have|had|will|would|could)\s+(?P<x>.+?)\s+(?:{_QUESTION_VERBS})\b"
    r"(?P<rest>.*)$",
    re.IGNORECASE,
)
_VIEW_QUESTION = re.compile(
    r"^what\s+(?:is|was|are|were|has been)\s+(?P<x>.+?)[’']s?\s+"
    r"(?:views?|positions?|stances?|opinions?|takes?|responses?|reactions?|comments?|remarks?|messages?|"
    r"assessments?|thoughts?|arguments?|claims?|statements?|words?|points?)\b(?P<rest>.*)$",
    re.IGNORECASE,
)
_YESNO_QUESTION = re.compile(
    rf"^(?:did|has|have|does)\s+(?P<x>.+?)\s+(?:{_QUESTION_VERBS})\s+(?:anything\s+)?"
    rf"(?P<rest>(?:{_ALL_TOPIC_PREPS})\s+.+)$",
    re.IGNORECASE,
)
_NOT_SPEAKERS = frozenset(
    ["the article", "the story", "the report", "the text", "the piece", "the news", "the data", "the author"]
) | _words("it this that you i we they people anyone anybody someone somebody")


def parse_speaker_question(question: str) -> tuple[str, str] | None:
    """('Dmitriev', 'sanctions') for "What did Dmitriev say about sanctions?"; also claim/tell/think/believe/
    'What does X think of Y', "What was X's view on Y", 'What has X said on Y', "What did X tell CNN about Y";
    the topic may be '' ("What did Trump say?"). None for questions that are not about what someone said."""
    q = re.sub(r"\s+", " ", question).strip().rstrip("?.! ").strip()
    for pattern in (_VIEW_QUESTION, _VERB_QUESTION, _YESNO_QUESTION):
        m = pattern.match(q)
        if m is None:
            continue
        speaker = _bare(m.group("x").strip(" ,"))
        if not speaker or speaker.lower() in _NOT_SPEAKERS:
            return None
        return speaker, _topic(m.group("rest"))
    return None


def _topic(rest: str) -> str:
    """The topic after the verb: "CNN about sanctions" -> "sanctions"; "" when there is none."""
    for group in _TOPIC_PREPS:
        m = re.search(rf"(?:^|\s)(?:{'|'.join(group)})\s+(?P<y>.+)$", rest, re.IGNORECASE)
        if m:
            return m.group("y").strip(" ,")
    return ""


# ---------------------------------------------------------------------------------------------------------
# Evaluation against gold attributions.
# ---------------------------------------------------------------------------------------------------------


def _fold(s: str) -> str:
    """Quote marks and apostrophes folded, whitespace collapsed: gold files are typed by hand."""
    s = s.translate(str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-"}))
    return re.sub(r"\s+", " ", s).strip()


def _same_speaker(gold_speaker: str, st: Statement, statements: Sequence[Statement]) -> bool:
    if _fold(gold_speaker).lower() == _fold(st.speaker).lower():
        return True
    return match_speaker(gold_speaker, statements) == st.speaker


def score_attribution(statements: list[Statement], gold: list[dict]) -> dict:
    """Precision/recall of extracted statements against gold items {speaker, kind, contains}.

    An extracted statement matches a gold one when the gold `contains` string lies within its text and the
    speakers are the same person (canonical name or a variant).
    """
    matched_gold: set[int] = set()
    matched_st: set[int] = set()
    for g, item in enumerate(gold):
        needle = _fold(item["contains"])
        for s, st in enumerate(statements):
            if needle in _fold(st.text) and _same_speaker(item["speaker"], st, statements):
                matched_gold.add(g)
                matched_st.add(s)
    misses = []
    for g, item in enumerate(gold):
        if g in matched_gold:
            continue
        needle = _fold(item["contains"])
        found = [st.speaker for st in statements if needle in _fold(st.text)]
        misses.append({**item, "extracted_speakers": found})
    false_positives = [
        {"speaker": st.speaker, "kind": st.kind, "text": st.text, "cue": st.cue}
        for s, st in enumerate(statements)
        if s not in matched_st
    ]
    return {
        "precision": len(matched_st) / len(statements) if statements else 0.0,
        "recall": len(matched_gold) / len(gold) if gold else 0.0,
        "matched": len(matched_gold),
        "extracted": len(statements),
        "gold": len(gold),
        "misses": misses,
        "false_positives": false_positives,
    }
