"""Date strings (ISO 8601, RFC 2822, and near-ISO variants) -> timezone-aware datetimes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime


def parse_datetime(value: str | None) -> datetime | None:
    """ISO 8601 / RFC 2822 string -> timezone-aware datetime (UTC when no offset is given)."""
    if not value:
        return None
    value = value.strip()
    dt: datetime | None = None
    candidate = value.replace("Z", "+00:00") if value.endswith("Z") else value
    try:
        dt = datetime.fromisoformat(candidate)
    except ValueError:
        m = re.match(
            r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{1,2}:\d{2}(?::\d{2})?)(?:\.\d+)?)?\s*"
            r"(Z|[+-]\d{2}:?\d{2})?",
            value,
        )
        if m:
            iso = m.group(1) + ("T" + m.group(2) if m.group(2) else "")
            tz = m.group(3)
            if tz:
                tz = "+00:00" if tz == "Z" else (tz if ":" in tz else tz[:3] + ":" + tz[3:])
                iso += tz
            try:
                dt = datetime.fromisoformat(iso)
            except ValueError:
                dt = None
        else:
            try:
                dt = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                dt = None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def as_aware(value: datetime | date | None) -> datetime | None:
    """A date or naive datetime as an aware datetime (UTC assumed)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
