"""Cleaning article text: invisible characters, whitespace, and page furniture (datelines, breadcrumbs, footers)."""

from __future__ import annotations

import re
import unicodedata

from assistant.text.dates import parse_date

# Invisible characters that can hide text from a reader but not from a model: zero-width, bidirectional
# controls, Unicode tag characters and the other C0/C1 controls except newline and tab; also lone surrogates
# (a "\ud83d" escape in a JSON record cut mid-emoji), which cannot be encoded, embedded or saved.
_INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f"
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]"
)
_FURNITURE_LINE = re.compile(
    r"^(related articles?|most popular|most read|advertisement|share this( article)?|read more|"
    r"sign up for our newsletter|follow us on .*|skip to (main )?content|cookie settings)\s*:?$",
    re.IGNORECASE,
)
# A furniture line after which nothing is article text (lists of other stories, footers).
_TAIL_MARKERS = {"related articles", "related article", "most popular", "most read"}
# A breadcrumb glued together by the page's markup, e.g. "HomeWorldEuropeTop Russian official ...".
_BREADCRUMB = re.compile(r"^(Home|News)([A-Z][a-z]+){1,4}[A-Z]")


def clean_text(text: str) -> tuple[str, int]:
    """Normalise text for indexing; returns the text and how many invisible/control characters were removed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text, removed = _INVISIBLE.subn("", text)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip(), removed


def strip_invisible(text: str) -> str:
    """The text without invisible/control characters (for metadata fields, which are not otherwise cleaned)."""
    return _INVISIBLE.sub("", text)


def strip_furniture(lines: list[str]) -> tuple[list[str], str, str]:
    """Drop dateline, breadcrumb and footer lines; return (lines, dateline date, headline)."""
    published, headline, kept = "", "", []
    for i, line in enumerate(lines):
        stripped = line.strip()
        lowered = stripped.lower().rstrip(":")
        if lowered in _TAIL_MARKERS:
            break
        if i < 5 and not published and parse_date(stripped):
            published = parse_date(stripped)
            continue
        if i < 5 and _BREADCRUMB.match(stripped):
            continue
        if _FURNITURE_LINE.match(stripped):
            continue
        kept.append(line)
    # The headline is the first non-empty line when it reads like one (short, no final full stop).
    for j, line in enumerate(kept):
        if line.strip():
            if len(line) < 200 and not line.rstrip().endswith((".", "?", "!", "”", '"')):
                headline = line.strip()
                kept = kept[j + 1 :]
            break
    return kept, published, headline
