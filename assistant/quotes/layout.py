"""An article's layout for the quote rules: paragraphs, quotations, sentence-like units and their tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from assistant.text.sentences import sentence_spans
from assistant.text.vocabulary import NAME_PARTICLES, POSSESSIVE_ENDINGS, SUBJECT_PRONOUNS, is_abbreviation

_OPENING_MARKS = {"“": "”", "«": "»", '"': '"', "‘": "’"}
_OPENING = re.compile("|".join(_OPENING_MARKS))
# a word (with inner hyphens, apostrophes and dots: "U.S.", "Trump’s"), or any other single visible character
_TOKEN = re.compile(r"(?P<word>[^\W_](?:[\w\-]|[’'](?=[^\W_])|\.(?=[^\W_]))*)|\S")
_SENTENCE_END = tuple('.!?:”"’)…')


@dataclass(frozen=True)
class Quote:
    """A quotation's offsets in the article: with its marks (start, end) and without (cstart, cend)."""

    start: int  # opening mark
    end: int  # just after the closing mark (or the paragraph end when the quote runs on)
    cstart: int  # content
    cend: int


class Tok(NamedTuple):  # a tuple, not a dataclass: articles have tens of thousands, built in a hot loop
    kind: str  # "w" word, "p" punctuation, "q" a whole quotation
    start: int
    end: int
    text: str


@dataclass
class Paragraph:
    """A line of the article with its quotations and its sentence-like units, tokenised."""

    start: int
    end: int
    headline: bool
    quotes: list[Quote]
    units: list[tuple[int, int]]
    unit_tokens: list[list[Tok]]
    unit_runs: list[list[tuple[int, int]]]  # _cap_runs of each unit's tokens (asked for twice)


def article_layout(text: str, sentences: list[tuple[int, int]] | None = None) -> list[Paragraph]:
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
        tokens = [tokenize(text, s, e, quote_at) for s, e in units]
        runs = [_cap_runs(toks) for toks in tokens]
        layout.append(Paragraph(start, end, _is_headline(text, start, end), quotes, units, tokens, runs))
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


def _quotes_in(text: str, start: int, end: int) -> list[Quote]:
    """Quotations of one paragraph; an unclosed double quote runs to the paragraph end (it goes on below)."""
    quotes, i = [], start
    while (m := _OPENING.search(text, i, end)) is not None:
        i, ch = m.start(), m.group()
        if not (ch == "‘" and i > start and text[i - 1].isalnum()):
            close = _closing_mark(text, i, end)
            if close is None and ch != "‘":
                quotes.append(Quote(i, end, i + 1, end))
                break
            if close is not None:
                quotes.append(Quote(i, close + 1, i + 1, close))
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


def _units(text: str, spans: list[tuple[int, int]], quotes: list[Quote]) -> list[tuple[int, int]]:
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


def tokenize(text: str, start: int, end: int, quote_at: dict[int, Quote]) -> list[Tok]:
    """Words, punctuation and whole quotations (one token each, so quoted words never act as cues)."""
    toks, i = [], start
    while (m := _TOKEN.search(text, i, end)) is not None:
        s, i = m.span()
        if s in quote_at:
            q = quote_at[s]
            toks.append(Tok("q", q.start, q.end, text[q.start : q.end]))
            i = q.end
        elif m.lastgroup == "word":
            if i < end and text[i] == "." and is_abbreviation(m.group()):
                i += 1
            toks.append(Tok("w", s, i, text[s:i]))
        else:
            toks.append(Tok("p", s, i, text[s]))
    return toks


def _cap_runs(toks: list[Tok]) -> list[tuple[int, int]]:
    """Token ranges of capitalised words (with name particles inside), e.g. "US President Donald Trump"."""
    runs, i = [], 0
    while i < len(toks):
        if not is_cap(toks[i]):
            i += 1
            continue
        j = i + 1
        while j < len(toks) and not is_possessive(toks[j - 1]):
            if is_cap(toks[j]):
                j += 1
            elif toks[j].text in NAME_PARTICLES and j + 1 < len(toks) and is_cap(toks[j + 1]):
                j += 2
            else:
                break
        runs.append((i, j))
        i = j
    return runs


# Token tests.


def is_possessive(tok: Tok) -> bool:
    return tok.kind == "w" and tok.text.endswith(POSSESSIVE_ENDINGS)


def is_cap(tok: Tok) -> bool:
    return tok.kind == "w" and tok.text[0].isupper()


def text_at(toks: list[Tok], i: int) -> str:
    return toks[i].text if 0 <= i < len(toks) else ""


def is_plain_lower(tok: Tok) -> bool:
    low = tok.text.lower()
    return tok.kind == "w" and tok.text.islower() and low != "that" and low not in SUBJECT_PRONOUNS
