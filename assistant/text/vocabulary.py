"""Word lists the language rules share (speech verbs, role words, titles, calendar words…) and word tests on them."""

from __future__ import annotations

import re

# Kept as plain sets so that the rules stay readable and any article (not just the sample) works.


def word_set(spaced: str) -> frozenset[str]:
    """A vocabulary set written as space-separated words."""
    return frozenset(spaced.split())


# Verbs that introduce what someone said or holds (cue verbs); matched case-sensitively in lower case.
SPEECH_VERBS = word_set(
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
ADDRESSEE_VERBS = word_set("told tells asked assured warned warns reminded informed")
# Participles that add a second statement after a cue: "..., Trump said, expressing confidence that ...".
SPEECH_PARTICIPLES = word_set(
    """adding noting saying stressing insisting warning arguing explaining claiming expressing voicing
    emphasising emphasizing pointing suggesting arguing predicting"""
)
# Words that may sit between a speaker and the verb ("Dmitriev also added", "Trump has said").
AUXILIARIES = word_set(
    """also has have had then later further earlier previously again recently reportedly repeatedly once
    publicly separately subsequently similarly himself herself often already privately just"""
)
NEGATIONS = word_set("not never n’t n't")
PRONOUN_GENDERS = {"he": "m", "she": "f", "him": "m", "her": "f"}
DETERMINERS = word_set("the a an")
SUBJECT_PRONOUNS = word_set("i you he she it we they")

# Titles and job words: in a capitalised run they precede the name ("US President Donald Trump"); in a
# lower-case noun phrase they head a role description ("the Russian negotiator").
ROLE_WORDS = word_set(
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
ROLE_MODIFIERS = word_set(
    """special foreign defence defense top senior former prime press
    acting interim deputy vice"""
)
ROLE_HEADS = ROLE_WORDS - ROLE_MODIFIERS
# Lower-case words that may modify a role head in a speaker phrase ("the Kremlin official").
NP_MODIFIERS = word_set(
    """national security finance economic military trade government party company campaign opposition state
    federal regional local veteran longtime outgoing incoming new fund investment"""
)
# Adjectives that stand for a role word: "presidential envoy".
ROLE_ADJECTIVES = {
    "presidential": "president",
    "ministerial": "minister",
    "senatorial": "senator",
    "gubernatorial": "governor",
    "mayoral": "mayor",
    "diplomatic": "diplomat",
}
# A capitalised run holding one of these names an organisation or a place, never a person.
ORG_WORDS = word_set(
    """news house ministry department fund administration agency bank party council committee commission
    union university times post journal office court senate congress parliament government company corp
    corporation inc ltd group institute association foundation organisation organization army navy forces
    force guard police service network tv radio channel kremlin pentagon nations states kingdom republic
    federation street sea ocean war airlines club bureau authority board centre center programme program
    cabinet embassy media press reuters bloomberg"""
)
CALENDAR_WORDS = word_set(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december"""
)
NAME_PARTICLES = word_set("de da di van von der den bin al el la le du dos del")
PLACE_PREPOSITIONS = word_set("in from near across throughout at outside inside into towards toward")
NATIONALITY_EXCEPTIONS = word_set("brian adrian christian julian vivian damian fabian lillian marian")
ACRONYM_NATIONS = word_set("us u.s. uk u.k. eu un")
# Words that open an introductory phrase ("At the same time, Dmitriev said ...").
INTRO_WORDS = word_set(
    """at in on following after before earlier later meanwhile however but and also separately speaking asked
    during when while last this for from with by then still yet now today yesterday instead moreover
    furthermore additionally nevertheless overall previously since under despite as amid addressing
    responding commenting writing referring in addition once"""
)
# Words allowed between a cue verb and "that" ("told CNN in an interview that ...").
CUE_TAIL_WORDS = word_set(
    """in on at with during after before to for from of a an the interview statement conference news press
    briefing response remarks comments post letter speech address reporters journalists however also later
    earlier recently last this week weekend month year day night morning evening separately previously
    again television radio broadcast podcast message video social media his her their its"""
)
ADDRESSEES = word_set(
    """reporters journalists lawmakers parliament me us him her them students supporters delegates viewers
    listeners congress"""
)
ABBREVIATIONS = word_set("mr. mrs. ms. dr. st. sen. rep. gov. gen. lt. col. prof. jr. sr. no.")
TAIL_PREPOSITIONS = word_set(
    """in on at with without during after before to for from of according as when by via amid despite
    although though because citing"""
)
CONNECTORS = word_set("and but while whereas although though as because so")
# Lower-case words that cannot be part of a description before a speaker's name ("union leader Maria Lopez"):
# function words, verbs and prepositions end it ("which union leader …", "and union leader …").
NOT_DESCRIPTIVE = (
    word_set("who whom whose which what where why how is was are were be been do does did will would can could if")
    | DETERMINERS
    | CONNECTORS
    | NEGATIONS
    | AUXILIARIES
    | TAIL_PREPOSITIONS
    | PLACE_PREPOSITIONS
    | SPEECH_VERBS
)
# Prepositions of a description after an inverted cue's name: "said John Smith of the port authority."
DESCRIPTION_TAIL = word_set("of at from")

# Word tests on the lists.

INITIALS = re.compile(r"(?:[A-Z]\.)+[A-Z]")
POSSESSIVE_ENDINGS = ("'s", "’s")


def is_abbreviation(word: str) -> bool:
    return (word + ".").lower() in ABBREVIATIONS or INITIALS.fullmatch(word) is not None


def bare(word: str) -> str:
    """Word without a possessive ending."""
    return word[:-2] if word.endswith(POSSESSIVE_ENDINGS) else word  # (called for every word: no regex)


def role_stem(word: str) -> str:
    """Lower-case role stem: possessive and plural dropped, "presidential" -> "president"."""
    w = bare(word).lower().rstrip(".")
    w = ROLE_ADJECTIVES.get(w, w)
    if w.endswith("s") and w[:-1] in ROLE_WORDS:
        return w[:-1]
    return w


def is_plural_role(word: str) -> bool:
    w = bare(word).lower()
    return w.endswith("s") and w[:-1] in ROLE_WORDS


def is_nationality(word: str) -> bool:
    w = word.lower()
    if w in ACRONYM_NATIONS:
        return True
    return w.endswith(("ian", "ean", "ese", "ish")) and len(w) > 5 and w not in NATIONALITY_EXCEPTIONS


def is_acronym(word: str) -> bool:
    core = word[:-1] if word.endswith("s") else word
    return len(core) > 1 and core.replace(".", "").isupper()


def looks_adjectival(word: str) -> bool:
    return word.endswith(("al", "ian", "ior", "ive", "ic", "ary", "ese", "ish"))
