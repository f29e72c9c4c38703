"""Deterministic support check: is each generated sentence backed by the passages it cites?

A sentence is supported when all of these hold:

1. it cites at least one retrieved passage ([n] with 1 <= n <= number of passages);
2. every number in it occurs in a cited passage. Numbers are compared by value after light
   normalisation: thousands commas are dropped, a scale word or suffix multiplies ("$300bn",
   "300 billion" and "300,000,000,000" are equal; bn/billion, m/mn/million, k/thousand, tn/trillion),
   "%"/"per cent" are dropped, ordinal suffixes are dropped ("5th" is 5). Number words in passages
   ("three steps") count as their digits; number words in the sentence are left to the similarity test;
3. every capitalised word (names, places, months, weekdays, acronyms) occurs in a cited passage,
   case-insensitively, allowing a short suffix difference so "Russian" matches "Russia" and
   "Ukrainian" matches "Ukraine". Common words that are capitalised only because they open a
   sentence or a quote ("The", "However", "He") and titles ("President", "Minister") are not checked;
4. who said it agrees with the passage: if the sentence names a speaker ("X said ...") and the
   passage sentence it matches best has a different named speaker (found in that sentence, or for
   "he said" and quotes, in the nearest earlier sentence of the passage naming one), it is unsupported.
   With `speaker` (a "what did X say" question), a sentence reporting someone else's words is also
   unsupported when X is not a speaker anywhere in the cited passages;
5. its embedding's best cosine similarity to the sentences of the cited passages is >= min_similarity;
6. it is not a copy of the prompt: it neither repeats a passage's title line nor holds the fence boundary or a
   BEGIN DATA / END DATA line (a small model echoing its prompt would otherwise pass tests 1-5).

Every failed test adds a short reason; reasons are joined with "; ".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SentenceCheck", "check_sentences", "check_support", "split_cited_sentences", "structured_sentences"]


@dataclass
class SentenceCheck:
    text: str  # the sentence without its [n] markers
    citations: list[int]  # valid passage numbers it cites (markers naming no retrieved passage are removed)
    supported: bool
    reason: str  # '' when supported, else why not, e.g. "number 400 not in passage [2]"


# --- sentences and citation markers -------------------------------------------------------------------

_MARKER = r"\[\d+(?:\s*[,;]\s*\d+)*\]"
_MARKER_RE = re.compile(r"\s*" + _MARKER)
# A sentence ends at . ! ? (plus closing quotes and any [n] markers after them), or at [n] markers alone,
# when what follows starts a new sentence (capital, digit, opening quote) or the text ends.
_END_RE = re.compile(
    r"(?:[.!?]+[\"'”’)]*(?:\s*" + _MARKER + r")*|(?:\s*" + _MARKER + r")+)(?=\s+[\"“‘'(]?[A-Z0-9]|\s*$)"
)
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "sen", "rep", "gov", "lt", "col", "prof", "inc",
    "ltd", "co", "corp", "vs", "no", "us", "uk", "eu", "un", "u.s", "u.k", "e.g", "i.e", "jan", "feb",
    "mar", "apr", "aug", "sept", "sep", "oct", "nov", "dec",
}  # fmt: skip
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the '.' ending at text[:end] closes an abbreviation or an initial, not a sentence."""
    head = text[:end].rstrip("\"'”’)")
    if not head.endswith(".") or head.endswith(".."):
        return False
    word = re.search(r"([A-Za-z][A-Za-z.]*)\.$", head)
    if not word:
        return False
    token = word.group(1)
    # "U.S." is ambiguous at the end of a sentence; treating it as an abbreviation only merges two sentences.
    return len(token) == 1 or token.lower() in _ABBREVIATIONS


def _raw_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_PREFIX.sub("", line).strip()
        start = 0
        for match in _END_RE.finditer(line):
            if _is_abbreviation(line, match.end()) and match.end() < len(line):
                continue
            sentences.append(line[start : match.end()].strip())
            start = match.end()
        if line[start:].strip():
            sentences.append(line[start:].strip())
    return [s for s in sentences if s]


def _strip_markers(sentence: str) -> tuple[str, list[int]]:
    numbers = [int(n) for marker in re.findall(_MARKER, sentence) for n in re.findall(r"\d+", marker)]
    text = _MARKER_RE.sub("", sentence)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip(), numbers


def _split(answer: str, n_passages: int) -> list[tuple[str, list[int], bool]]:
    """(text, valid citations, had any marker) per sentence; a chunk of markers alone joins the one before."""
    out: list[tuple[str, list[int], bool]] = []
    for raw in _raw_sentences(answer):
        text, numbers = _strip_markers(raw)
        valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= n_passages]
        if not re.search(r"\w", text):
            if out and numbers:
                prev_text, prev_valid, _ = out[-1]
                out[-1] = (prev_text, list(dict.fromkeys(prev_valid + valid)), True)
            continue
        out.append((text, valid, bool(numbers)))
    return out


def split_cited_sentences(answer: str, n_passages: int) -> list[tuple[str, list[int]]]:
    """The answer's sentences without their [n] markers, each with the retrieved passages it cites.

    Markers may stand before or after the final punctuation ("... [1]." or "... . [1][2]"); markers
    naming no retrieved passage (0, or above n_passages) are dropped.
    """
    return [(text, valid) for text, valid, _ in _split(answer, n_passages)]


def structured_sentences(
    items: Sequence[tuple[str, Sequence[int]]], n_passages: int
) -> list[tuple[str, list[int], bool]]:
    """(text, valid citations, had any citation) for sentences a structured reply gave with their passages.

    A text holding several sentences is split, each part citing the item's passages; "[n]" markers the model
    wrote inside the text anyway are dropped (the item's passage list is the citation).
    """
    out = []
    for text, numbers in items:
        valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= n_passages]
        for raw in _raw_sentences(text):
            plain, _ = _strip_markers(raw)
            if re.search(r"\w", plain):
                out.append((plain, valid, bool(numbers)))
    return out


# --- numbers ------------------------------------------------------------------------------------------

_SCALES = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6,
    "billion": 1e9, "bn": 1e9, "trillion": 1e12, "tn": 1e12,
}  # fmt: skip
_NUMBER_RE = re.compile(
    r"(?<![\w.])[$€£]?(?P<value>\d+(?:,\d{3})*(?:\.\d+)?)"
    r"(?:\s*(?:%|per\s?cent\b|percent\b)|(?:st|nd|rd|th)\b|\s*(?P<word>thousand|million|billion|trillion)\b"
    r"|(?P<suffix>k|mn|m|bn|tn)\b)?",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "dozen": 12, "hundred": 100, "thousand": 1000, "million": 1e6, "billion": 1e9,
}  # fmt: skip


def _key(value: float) -> str:
    return f"{value:.10g}"


def _numbers(text: str) -> list[tuple[str, str]]:
    """(as written, normalised value) for each number written in digits."""
    found = []
    for match in _NUMBER_RE.finditer(text):
        value = float(match.group("value").replace(",", ""))
        scale = (match.group("word") or match.group("suffix") or "").lower()
        value *= _SCALES.get(scale, 1.0)
        found.append((match.group(0).strip(), _key(value)))
    return found


def _passage_numbers(text: str) -> set[str]:
    keys = {key for _, key in _numbers(text)}
    keys |= {_key(_NUMBER_WORDS[w]) for w in re.findall(r"[a-z]+", text.lower()) if w in _NUMBER_WORDS}
    return keys


# --- names --------------------------------------------------------------------------------------------


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Capitalised only because they open a sentence or a quote; never treated as names.
_COMMON = _wordset(
    """a an the this that these those there here it its he she they we i you his her their our my your him
    them us me who whom whose what which when where why how and but or nor so yet for if then than though
    although because while whereas however moreover meanwhile also still even only just both either neither
    in on at by to of from with without about after before during since until into onto over under between
    among through across against toward towards upon within as not no yes all any some many much more most
    few several each every other another such same according following despite instead earlier later
    today yesterday tomorrow now then first second finally overall in addition is was are were be been has
    have had do does did will would can could may might must should shall one said says asked told"""
)
# Titles are not facts to check by themselves: "President Putin" is supported by a passage saying "Putin".
_TITLES = _wordset(
    """president vice prime minister ministers senator senators secretary envoy special ambassador
    spokesman spokeswoman spokesperson chancellor governor king queen prince general mr mrs ms dr sir lady
    lord chairman chief director head leader official officials"""
)
_WORD_RE = re.compile(r"[A-Za-z][\w'’.\-]*[A-Za-z0-9]|[A-Za-z]")


def _norm(word: str) -> str:
    word = re.sub(r"['’]s?$", "", word)  # possessive: Trump's -> Trump
    return word.replace(".", "").lower()


def _word_parts(text: str) -> list[tuple[str, bool]]:
    """(normalised word, starts with a capital) for each word; hyphenated words count part by part."""
    parts = []
    for word in _WORD_RE.findall(text):
        for part in word.split("-"):
            if part and part[0].isalpha():
                parts.append((_norm(part), part[0].isupper()))
    return [(p, cap) for p, cap in parts if p]


def _same_name(a: str, b: str) -> bool:
    """Equal, or equal up to a short ending (Russia/Russian, Ukraine/Ukrainian, Europe/European)."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    stem = short[:-1] if short.endswith("e") and len(short) > 4 else short
    return len(stem) >= 4 and long.startswith(stem) and len(long) - len(stem) <= 3


def _names(sentence: str) -> list[tuple[str, str]]:
    """(as written, normalised) for capitalised words of the sentence that must be found in a passage."""
    names = []
    for word in _WORD_RE.findall(sentence):
        for part in word.split("-"):
            key = _norm(part)
            acronym = len(part) > 1 and part.replace(".", "").isupper()  # "US" is a name, "Us" is not
            if part[:1].isupper() and key and (acronym or key not in _COMMON) and key not in _TITLES:
                names.append((re.sub(r"['’]s?$", "", part), key))
    return names


def _has_name(name: str, vocabulary: set[str]) -> bool:
    return name in vocabulary or any(_same_name(name, word) for word in vocabulary if word[:2] == name[:2])


# --- speakers -----------------------------------------------------------------------------------------

_VERBS = (
    "said|says|say|told|tells|stressed|stresses|added|adds|noted|notes|claimed|claims|stated|states|"
    "insisted|insists|warned|warns|argued|argues|explained|recalled|announced|announces|believes|"
    "believed|wrote|writes|replied|responded|declared|emphasised|emphasized|confirmed|admitted|"
    "acknowledged|commented|reported|reports|threatened|accused|expressed"
)
_AUX = r"(?:(?:has|had|have|also|then|later|again|reportedly|once|further|has\s+also|confidently|was|is)\s+)*"
_NAME_SEQ = r"[A-Z][\w'’.\-]*(?:\s+[A-Z][\w'’.\-]*)*"
_SUBJECT_RE = re.compile(rf"({_NAME_SEQ})\s+{_AUX}(?:{_VERBS})\b")
_INVERTED_RE = re.compile(rf"[,”\"]\s*(?:{_VERBS})\s+({_NAME_SEQ})")
_ACCORDING_RE = re.compile(rf"\b[Aa]ccording to (?:the\s+)?({_NAME_SEQ})")
_PRONOUN_RE = re.compile(
    rf"\b(?:[Hh]e|[Ss]he|[Tt]hey)\s+{_AUX}(?:{_VERBS})\b|\b(?:{_VERBS})\s+(?:he|she|they)\b"
    r"|\b[Aa]ccording to (?:him|her|them)\b"
)


def _speakers(sentence: str) -> list[str]:
    """Normalised name words of the people a sentence says are speaking ("Dmitriev said" -> ["dmitriev"])."""
    found: list[str] = []
    for pattern in (_SUBJECT_RE, _INVERTED_RE, _ACCORDING_RE):
        for match in pattern.finditer(sentence):
            found += [w for w, _ in _word_parts(match.group(1)) if w not in _COMMON and w not in _TITLES]
    return list(dict.fromkeys(found))


def _reports_speech(sentence: str) -> bool:
    """True for sentences whose speaker must be looked up earlier: "..., he said." or an opening quote."""
    return bool(_PRONOUN_RE.search(sentence)) or sentence.lstrip()[:1] in '“"‘'


def _speaker_of(sentences: Sequence[str], index: int) -> list[str]:
    """The named speaker of sentences[index]: its own, else the nearest earlier one if it reports speech."""
    own = _speakers(sentences[index])
    if own or not _reports_speech(sentences[index]):
        return own
    for earlier in reversed(sentences[:index]):
        named = _speakers(earlier)
        if named:
            return named
    return []


def _same_person(a: Sequence[str], b: Sequence[str]) -> bool:
    return any(_same_name(x, y) for x in a for y in b)


def _display(words: Sequence[str], passages_text: str) -> str:
    """A readable name for speaker words, e.g. "Donald Trump" for ["trump"] when a passage writes it so."""
    last = words[-1]
    # A lookahead, so overlapping pairs are all seen: "US President Donald Trump" yields "Donald Trump".
    for match in re.finditer(r"(?=\b([A-Z][a-z]+)\s+([A-Z][\w'’\-]+))", passages_text):
        first, second = match.group(1), re.sub(r"['’]s?$", "", match.group(2))
        if _norm(second) == last and first.lower() not in _TITLES | _COMMON:
            return f"{first} {second}"
    return " ".join(w.capitalize() if len(w) > 3 else w.upper() for w in words)


# --- the check ----------------------------------------------------------------------------------------


def _cites(numbers: Sequence[int]) -> str:
    return ("passage " if len(numbers) == 1 else "passages ") + ", ".join(f"[{n}]" for n in numbers)


_FENCE_LINE = re.compile(r"\b(?:BEGIN|END)\s+DATA\b", re.IGNORECASE)


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _copies_title(text: str, titles: Sequence[str]) -> bool:
    """True when the sentence repeats a title line: holds a whole title, or is three or more words of one."""
    plain = _plain(text)
    for title in titles:
        title_plain = _plain(title)
        if not title_plain:
            continue
        if title_plain in plain or (len(plain.split()) >= 3 and plain in title_plain):
            return True
    return False


def check_support(
    answer: str,
    passages: list[str],
    embed: Callable[[list[str]], np.ndarray],
    speaker: str | None = None,
    min_similarity: float = 0.55,
    titles: Sequence[str] = (),
    boundary: str = "",
) -> list[SentenceCheck]:
    """Check every sentence of answer against the passages it cites (passages[i] is passage [i+1]).

    embed returns L2-normalised vectors, one row per text. speaker is the person a "what did X say"
    question asks about, or None. titles are the passages' title lines and boundary the prompt's fence
    boundary: a sentence repeating either is a copy of the prompt, not an answer.
    """
    return check_sentences(_split(answer, len(passages)), passages, embed, speaker, min_similarity, titles, boundary)


def check_sentences(
    split: Sequence[tuple[str, list[int], bool]],
    passages: list[str],
    embed: Callable[[list[str]], np.ndarray],
    speaker: str | None = None,
    min_similarity: float = 0.55,
    titles: Sequence[str] = (),
    boundary: str = "",
) -> list[SentenceCheck]:
    """check_support for sentences already split: (text, valid citations, had any marker) each."""
    # Each passage's sentences, split once; they are what a generated sentence is compared with.
    passage_sentences = [[_strip_markers(s)[0] for s in _raw_sentences(p)] or [p] for p in passages]
    cited = sorted({n for _, valid, _ in split for n in valid})
    pool = [(n, i) for n in cited for i in range(len(passage_sentences[n - 1]))]
    texts = [text for text, _, _ in split] + [passage_sentences[n - 1][i] for n, i in pool]
    vectors = np.asarray(embed(texts), dtype=np.float32) if texts else np.zeros((0, 1), np.float32)
    sentence_vectors, pool_vectors = vectors[: len(split)], vectors[len(split) :]
    wanted_speaker = [w for w, _ in _word_parts(speaker or "") if w not in _TITLES]

    checks = []
    for row, (text, valid, had_markers) in enumerate(split):
        if not valid:
            reason = "cites no retrieved passage" if had_markers else "no citation"
            checks.append(SentenceCheck(text=text, citations=valid, supported=False, reason=reason))
            continue
        source = "\n".join(passages[n - 1] for n in valid)
        reasons = []
        if (boundary and boundary in text) or _FENCE_LINE.search(text):
            reasons.append("copies the prompt's fence")
        if _copies_title(text, titles):
            reasons.append("repeats a passage title")

        numbers = _passage_numbers(source)
        for written, key in _numbers(text):
            if key not in numbers:
                reasons.append(f"number {written} not in {_cites(valid)}")

        vocabulary = {w for w, _ in _word_parts(source)}
        missing = list(dict.fromkeys(name for name, key in _names(text) if not _has_name(key, vocabulary)))
        if missing:
            reasons.append(f"{'name' if len(missing) == 1 else 'names'} {', '.join(missing)} not in {_cites(valid)}")

        # The cited passages' sentences, and the one this sentence resembles most.
        columns = [k for k, (n, _) in enumerate(pool) if n in valid]
        similarities = pool_vectors[columns] @ sentence_vectors[row]
        best = int(np.argmax(similarities))
        best_passage, best_index = pool[columns[best]]

        said_by = _speakers(text)
        source_speaker = _speaker_of(passage_sentences[best_passage - 1], best_index)
        if said_by and source_speaker and not _same_person(said_by, source_speaker):
            reasons.append(f"speaker: passage attributes this to {_display(source_speaker, source)}")
        elif wanted_speaker:
            reported = said_by or source_speaker
            speakers_here = [
                w for n in valid for k in range(len(passage_sentences[n - 1]))
                for w in _speaker_of(passage_sentences[n - 1], k)
            ]  # fmt: skip
            if (
                reported
                and not _same_person(reported, wanted_speaker)
                and _same_person(reported, speakers_here)
                and not _same_person(wanted_speaker, speakers_here)
            ):
                reasons.append(f"speaker: passage attributes this to {_display(reported, source)}")

        if float(similarities[best]) < min_similarity:
            reasons.append(f"low similarity ({float(similarities[best]):.2f})")

        checks.append(SentenceCheck(text=text, citations=valid, supported=not reasons, reason="; ".join(reasons)))
    return checks
