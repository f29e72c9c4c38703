"""Dates: one reading of the dates in article files, command-line flags, the chat's date boxes and questions."""

from __future__ import annotations

import calendar
import math
import re
from datetime import UTC, date, datetime

from assistant.errors import AssistantError

MONTH_NAMES = tuple(name for name in calendar.month_name if name)  # "January" … "December"


class DateRangeError(AssistantError):
    """A date filter that is not a date, or a range whose start is after its end."""


_MONTHS = "|".join(MONTH_NAMES)
_DATELINE = re.compile(
    rf"^(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),?\s+)?"
    rf"(?:({_MONTHS})\s+(\d{{1,2}}),?\s+(\d{{4}})|(\d{{1,2}})\s+({_MONTHS}),?\s+(\d{{4}})|(\d{{4}}-\d{{2}}-\d{{2}}))$",
    re.IGNORECASE,
)


def parse_date(value: object) -> str:
    """ISO date (YYYY-MM-DD) from a date, an ISO timestamp, a dateline such as 'Saturday, April 5, 2025' or a
    number of Unix seconds or milliseconds (UTC); "" when not understood. Numbers before 1973 (under 10^8) are
    not taken as times, so that a year (2025) or a packed date (20250405) is not read as a day in 1970."""
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= 1e11 else value
        if not math.isfinite(seconds) or not 1e8 <= seconds < 1e11:
            return ""
        return datetime.fromtimestamp(seconds, UTC).date().isoformat()
    if not isinstance(value, str) or not value.strip():
        return ""
    value = value.strip()
    m = re.match(r"^(\d{4}-\d{2}-\d{2})", value)
    if m:
        try:
            return date.fromisoformat(m.group(1)).isoformat()
        except ValueError:
            return ""
    m = _DATELINE.match(value)
    if not m:
        return ""
    if m.group(7):
        return m.group(7)
    month, day, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(5), m.group(4), m.group(6))
    try:
        return datetime.strptime(f"{month} {day} {year}", "%B %d %Y").date().isoformat()
    except ValueError:
        return ""


def date_range(
    since: str | None, until: str | None, names: tuple[str, str] = ("--since", "--until")
) -> tuple[str, str]:
    """The ISO dates of a since/until filter ("" when empty), each read by parse_date; DateRangeError naming the
    bad one (by `names`, the flag or the box it came from) or saying the range is backwards."""
    found = []
    for name, value in zip(names, (since, until), strict=True):
        value = (value or "").strip()
        iso = parse_date(value) if value else ""
        if value and not iso:
            raise DateRangeError(f"{name} expects a date like 2025-04-05, not '{value}'")
        found.append(iso)
    first, last = found
    if first and last and first > last:
        raise DateRangeError(f"{names[0]} ({first}) is after {names[1]} ({last})")
    return first, last


def long_date(iso: str) -> str:
    """'5 April 2025' for '2025-04-05'; the input unchanged when it is not an ISO date."""
    try:
        day = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


def day_number(iso: str) -> int:
    """Proleptic ordinal of an ISO date, 0 when empty or not a date."""
    try:
        return date.fromisoformat(iso[:10]).toordinal() if iso else 0
    except ValueError:
        return 0
