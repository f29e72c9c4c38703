"""The time a question names ("in May 2022", "on March 4", "last week") as a span of publication dates."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from assistant.text.dates import MONTH_NAMES

_MONTHS = {name: i for i, name in enumerate(MONTH_NAMES, 1)}
_MONTHS |= {name[:3]: i for name, i in list(_MONTHS.items())} | {"Sept": 9}
# Capitalised only, so that the verb "may" is no month; abbreviations may end with a dot.
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b(?!-)\.?"  # not "Mar-a-Lago"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})\b(?![-–/]|s\b)"  # not a range ("2021-22") nor a decade ("1990s")

# Most specific first; the first pattern that matches anywhere in the question wins.
_ABSOLUTE = [
    ("day", re.compile(r"\b(?P<year>(?:19|20)\d{2})-(?P<mm>[01]\d)-(?P<day>[0-3]\d)\b")),
    ("day", re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}")),
    ("day", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}")),
    ("month", re.compile(rf"\b{_MONTH},?\s+(?:of\s+)?{_YEAR}")),
    ("year", re.compile(rf"(?i:\b(?:in|during|throughout)\s+(?:early\s+|late\s+|mid-\s*)?){_YEAR}")),
]
# A month or day without its year: the latest one on or before the reference date. A preposition is required:
# without one a date is often a name ("the Jan. 6 committee") or not when the news happened ("closed since June 13").
_YEARLESS = [
    ("day", re.compile(rf"\b[Oo]n\s+{_MONTH}\s+{_DAY}\b(?!,?\s+\d)")),
    ("day", re.compile(rf"\b[Oo]n\s+(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}(?!,?\s+\d)")),
    ("month", re.compile(rf"(?i:\b(?:in|during|throughout|early|late|mid)(?:\s+|-\s*)){_MONTH}(?!\s+\d)")),
]
# Lower case only (time_frame lowers a sentence's first letter), so that "USA Today" and "Last Week Tonight" are
# no dates; "the last week of the trial" or "his last year in office" is a span of something else.
_RELATIVE = re.compile(
    r"\b(?P<phrase>today|tonight|yesterday|(?:the\s+)?(?:this|last|past)\s+(?:week|month|year)(?!\s+(?:of|in)\b)"
    r"|(?:this|last)\s+weekend)\b"
)
_SENTENCE_START = re.compile(r"(?:^|(?<=[.!?]\s))\s*[A-Z]")


@dataclass(frozen=True)
class TimeFrame:
    """Publication dates [first, last] (inclusive) a question is about, and the words that named them."""

    first: date
    last: date
    phrase: str

    def describe(self) -> str:
        """'2022-11-01 to 2022-11-30 ("in November")', for notes shown with an answer."""
        span = self.first.isoformat() if self.first == self.last else f"{self.first} to {self.last}"
        return f'{span} ("{self.phrase}")'


def time_frame(question: str, reference: date | None) -> TimeFrame | None:
    """The span of dates the question names, or None.

    Full dates, months and years ("on March 4, 2022", "in May 2022", "during 2018") stand alone; a month or day
    without its year ("in November", "on March 4") is the latest one on or before `reference`, and relative
    words ("this week", "yesterday", "last month") count back from it. A time after the reference is no frame:
    news of what is to come ("the Olympics in 2024") is published before it.
    """
    frame = None
    for unit, pattern in _ABSOLUTE:
        found = pattern.search(question)
        if found and (frame := _frame(unit, found, int(found["year"]))):
            break
    if frame is None and reference is not None:
        frame = _yearless(question, reference)
        lowered = _SENTENCE_START.sub(lambda m: m.group().lower(), question)  # "Today, who…" but not "USA Today"
        if frame is None and (found := _RELATIVE.search(lowered)):
            try:
                frame = _relative(found["phrase"], reference)
            except (ValueError, OverflowError):  # a reference at the ends of the calendar (year 1 or 9999)
                return None
    if frame is None or (reference is not None and frame.first > reference):
        return None
    return frame


# "What will the Fed do in January?" means the next January: a time to come, so no frame (see time_frame).
_FUTURE = re.compile(r"(?i)\b(will|won't|going to|next|upcoming|expected to|plans? to)\b")


def _yearless(question: str, reference: date) -> TimeFrame | None:
    if _FUTURE.search(question):
        return None
    for unit, pattern in _YEARLESS:
        found = pattern.search(question)
        if found:
            for year in (reference.year, reference.year - 1):
                frame = _frame(unit, found, year)
                if frame and frame.first <= reference:
                    return frame
    return None


def _frame(unit: str, found: re.Match, year: int) -> TimeFrame | None:
    """The frame of one match in the given year; None when it is no real date (February 30)."""
    groups = found.groupdict()
    month = int(groups["mm"]) if groups.get("mm") else _MONTHS.get(groups.get("month") or "", 1)
    phrase = found.group(0).strip()
    try:
        if unit == "day":
            day = date(year, month, int(groups["day"]))
            return TimeFrame(day, day, phrase)
        if unit == "month":
            last_day = calendar.monthrange(year, month)[1]
            return TimeFrame(date(year, month, 1), date(year, month, last_day), phrase)
        return TimeFrame(date(year, 1, 1), date(year, 12, 31), phrase)
    except ValueError:
        return None


def _relative(phrase: str, ref: date) -> TimeFrame:
    """The frame of 'this week', 'yesterday', 'last month'... counted back from ref."""
    words = phrase.lower().split()
    which, unit = words[-2] if len(words) > 1 else "", words[-1]
    day = timedelta(days=1)
    if unit in ("today", "tonight"):
        return TimeFrame(ref, ref, phrase)
    if unit == "yesterday":
        return TimeFrame(ref - day, ref - day, phrase)
    if unit == "weekend":  # on a weekday, "last weekend" is the one just gone and "this weekend" the next one
        saturday = ref - day * ((ref.weekday() - 5) % 7)  # the latest Saturday on or before ref
        if which == "last" and ref.weekday() >= 5:
            saturday -= 7 * day
        elif which == "this" and ref.weekday() < 5:
            saturday += 7 * day
        return TimeFrame(saturday, saturday + day, phrase)
    if which == "last":  # the calendar week (Monday to Sunday), month or year before this one
        if unit == "week":
            monday = ref - ref.weekday() * day
            return TimeFrame(monday - 7 * day, monday - day, phrase)
        if unit == "month":
            end = ref.replace(day=1) - day
            return TimeFrame(end.replace(day=1), end, phrase)
        return TimeFrame(date(ref.year - 1, 1, 1), date(ref.year - 1, 12, 31), phrase)
    if which == "past":  # a span ending at ref
        return TimeFrame(ref - day * {"week": 7, "month": 30, "year": 365}[unit], ref, phrase)
    if unit == "week":  # "this week": the seven days before ref
        return TimeFrame(ref - 7 * day, ref, phrase)
    return TimeFrame(ref.replace(day=1) if unit == "month" else date(ref.year, 1, 1), ref, phrase)
