"""The question side of speakers: who a question asks about, and which extracted speaker a name means."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.quotes.cast import near_spelling
from assistant.quotes.statement import Statement
from assistant.text.vocabulary import (
    DETERMINERS,
    ORG_WORDS,
    ROLE_HEADS,
    ROLE_WORDS,
    bare,
    is_nationality,
    is_plural_role,
    role_stem,
    word_set,
)

_NAME_WORD = re.compile(r"[^\W\d_][\w\-’'.]*")  # a word of a name as written: "Trump’s", "J.", "Al-Sisi"


def speaker_names(statements: list[Statement]) -> dict[str, set[str]]:
    """Canonical speaker -> name variants seen (e.g. {"Kirill Dmitriev": {"Kirill Dmitriev", "Dmitriev"}})."""
    names: dict[str, set[str]] = {}
    for st in statements:
        variants = names.setdefault(st.speaker, {st.speaker})
        canon = {w.lower() for w in st.speaker.split()}
        words = _name_words(st.mention)
        while words and words[0].lower() not in canon:
            words = words[1:]  # titles: "US President Donald Trump" -> "Donald Trump"
        variant = " ".join(words)
        if variant and variant[0].isupper() and f" {variant.lower()} " in f" {st.speaker.lower()} ":
            variants.add(variant)
    return names


def _name_words(text: str) -> list[str]:
    """The words of a name as written, without possessives: "US President Donald Trump’s" -> [..., "Trump"]."""
    return [bare(w) for w in _NAME_WORD.findall(text)]


def _normalise_name(name: str) -> list[str]:
    """Lower-case name words without possessives, titles or articles: "President Trump's" -> ["trump"]."""
    words = [w.lower().rstrip(".") for w in _name_words(name)]
    words = [w for w in words if w not in DETERMINERS]
    if words and words[-1] in ORG_WORDS:  # an institution's name keeps every word: "Russian Foreign Ministry"
        return words
    while len(words) > 1 and (w := words[0]) and (w in ROLE_WORDS or is_nationality(w)):
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
    scored: list[tuple[float, int, str]] = []
    for canon, variants in names.items():
        for variant in variants | {canon}:
            words = _normalise_name(variant)
            if words == query:
                scored.append((3, counts[canon], canon))
            elif words and (set(query) <= set(words) or set(words) <= set(query)) and query[-1] == words[-1]:
                scored.append((2, counts[canon], canon))  # "Dmitriev", "Donald J. Trump"
            elif words and set(query) <= set(words):
                scored.append((1.5, counts[canon], canon))  # "Kirill", "Xi"
            elif words and len(query) == 1 and near_spelling(query[0], words[-1]):
                scored.append((1, counts[canon], canon))
    if not scored:
        return _match_by_role(_role_words(name), statements)
    return max(scored)[2]


def _match_by_role(query: list[str], statements: Sequence[Statement]) -> str | None:
    """A role ("the special envoy") -> the one speaker the article's cues or appositions call that, if only one."""
    wanted = {role_stem(w) for w in query}
    if not wanted & ROLE_HEADS:
        return None
    hits = _holders(wanted, statements)
    return hits[0] if len(hits) == 1 else None


def _role_words(name: str) -> list[str]:
    """Every lower-cased word of a speaker phrase but articles: "the US special envoy" -> ["us", "special", "envoy"]."""
    return [w.lower() for w in _name_words(name) if w.lower() not in DETERMINERS]


def _holders(wanted: set[str], statements: Sequence[Statement]) -> list[str]:
    """Speakers whose roles and affiliations in the article include every wanted word, most quoted first."""
    counts: dict[str, int] = {}
    for st in statements:
        if wanted <= {role_stem(w) for w in st.mention.split()} | set(st.roles.split()):
            counts[st.speaker] = counts.get(st.speaker, 0) + 1
    return sorted(counts, key=lambda name: -counts[name])


def match_speakers(name: str, statements: Sequence[Statement]) -> list[str]:
    """The speakers a question's name, role or institution means: one person by name ("Dmitriev") or by a role
    only one speaker has ("the Russian negotiator"); every speaker holding a plural role ("officials") or
    affiliated with an institution ("the Kremlin": its spokesman and its officials), most quoted first."""
    one = match_speaker(name, statements)
    if one:
        return [one]
    words = _role_words(name)
    wanted = {role_stem(w) for w in words} - {""}
    if not wanted:
        return []
    holders = _holders(wanted, statements)
    singular_role = wanted & ROLE_HEADS and not any(is_plural_role(w) for w in words)
    return holders if not singular_role or len(holders) == 1 else []


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
) | word_set("it this that you i we they people anyone anybody someone somebody")


def parse_speaker_question(question: str) -> tuple[str, str] | None:
    """('Dmitriev', 'sanctions') for "What did Dmitriev say about sanctions?"; also claim/tell/think/believe/
    'What does X think of Y', "What was X's view on Y", 'What has X said on Y', "What did X tell CNN about Y";
    the topic may be '' ("What did Trump say?"). None for questions that are not about what someone said."""
    q = re.sub(r"\s+", " ", question).strip().rstrip("?.! ").strip()
    for pattern in (_VIEW_QUESTION, _VERB_QUESTION, _YESNO_QUESTION):
        m = pattern.match(q)
        if m is None:
            continue
        speaker = bare(m.group("x").strip(" ,"))
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


# Verbs that ask for someone's own words; "think", "believe", "feel", "make of" and the view nouns ask for a
# position, which the articles may also report in their own words ("The Kremlin has rejected the plan").
_WORDS_VERBS = re.compile(
    r"\b(?:say|said|saying|claim|claimed|tell|told|state|stated|write|wrote|comment|commented|announce|announced|"
    r"reply|replied|respond|responded|admit|admitted|stress|stressed|note|noted|add|added|have to say)\b",
    re.IGNORECASE,
)


def asks_for_own_words(question: str, speaker: str) -> bool:
    """True when the question asks what a named person said ("What did Witkoff say after …?"): only their
    statements can answer it. False for a position ("What does the Kremlin think of …?", "What is Zelensky's view
    on …?") or a speaker named by institution or role ("the White House", "the foreign minister"), which the
    articles' own sentences may answer when nobody is quoted."""
    words = [bare(w) for w in speaker.split()]
    is_person = (
        bool(words)
        and all(w[:1].isupper() for w in words)
        and not any(w.lower() in ORG_WORDS or w.lower() in ROLE_WORDS or w.lower() in DETERMINERS for w in words)
    )
    if not is_person or _VIEW_QUESTION.match(re.sub(r"\s+", " ", question).strip()):
        return False
    head = question.split(speaker, 1)[-1] if speaker in question else question
    return bool(_WORDS_VERBS.search(head))
