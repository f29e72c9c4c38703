"""parse_date: an ISO date (YYYY-MM-DD) from whatever an article file gives as its date."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
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
