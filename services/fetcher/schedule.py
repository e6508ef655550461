"""When to poll a feed next: its own rhythm, bounded, and never sooner than the server allows.

Pure functions of the poll's outcome, so they are unit-tested without a server.

* Success: the interval follows the feed's entries per day (7 days / entries
  published in the last week), clamped to ``[min, max]`` poll interval, then
  raised to whatever the server asked for (RSS ``<ttl>``, ``Cache-Control:
  max-age``, ``Expires``). A small positive jitter spreads feeds that were
  added together.
* Failure: exponential backoff with full jitter; after ``dead_after_errors``
  failures in a row the feed is ``dead`` and probed every
  ``dead_probe_interval_seconds``. ``Retry-After`` (429/503) is a lower bound.
  Any success makes the feed ``active`` again: nobody has to revive it.
* A feed with its own bounds (``min_interval``/``max_interval`` in the list: :func:`feed_bounds`)
  has them instead of the global ones; its maximum also caps the server's cache hints (not
  ``Retry-After``, nor a dead feed's probe interval).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from services.fetcher.settings import FetcherSettings

WEEK = 7 * 86_400.0
HINT_CEILING = 7 * 86_400.0  # a server hint longer than a week is capped (a typo must not silence a feed)
JITTER = 0.1


def entries_per_day(dates: Iterable[datetime | None], now: float) -> float | None:
    """Entries per day over the last week, from the entries' dates; None when no entry is dated."""
    stamps = [d.timestamp() for d in dates if d is not None]
    stamps = [s for s in stamps if s <= now + 3600]  # future dates (bad clocks) say nothing about rhythm
    if not stamps:
        return None
    recent = [s for s in stamps if s >= now - WEEK]
    return len(recent) / 7.0


Bounds = tuple[float, float]


def feed_bounds(settings: FetcherSettings, low: float | None, high: float | None) -> Bounds | None:
    """A feed's own interval bounds (its ``min_interval``/``max_interval`` options), the global one
    filling in a bound not given (moved out of the way of the one given); None without either."""
    if low is not None:
        return low, high if high is not None else max(settings.max_poll_interval_seconds, low)
    if high is not None:
        return min(settings.min_poll_interval_seconds, high), high
    return None


def rhythm_interval(per_day: float | None, settings: FetcherSettings, bounds: Bounds | None = None) -> float:
    """The interval the feed's own rhythm asks for, within ``[min, max]`` (the feed's bounds when it has them)."""
    low, high = bounds or (settings.min_poll_interval_seconds, settings.max_poll_interval_seconds)
    if per_day is None:
        interval = settings.poll_interval_seconds
    elif per_day == 0:
        interval = high  # nothing for a week: check daily-ish
    else:
        interval = 86_400.0 / per_day
    return min(max(interval, low), high)


def server_hint(headers: Mapping[str, str], ttl_seconds: float | None, now: float) -> float:
    """The longest wait the server asked for: ``<ttl>``, ``Cache-Control: max-age``, ``Expires``."""
    hints = [ttl_seconds or 0.0]
    cache_control = headers.get("cache-control", "").lower()
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("max-age", "s-maxage") and value.strip().strip('"').isdigit():
            hints.append(float(value.strip().strip('"')))
    if "max-age" not in cache_control and headers.get("expires"):
        try:
            hints.append(parsedate_to_datetime(headers["expires"]).timestamp() - now)
        except (TypeError, ValueError):
            pass
    return min(max(hints), HINT_CEILING)


def next_success_delay(per_day: float | None, hint: float, settings: FetcherSettings,
                       rng: random.Random | None = None, bounds: Bounds | None = None) -> float:
    """Seconds until the next poll after a successful one. A feed's own maximum (``bounds``) also caps
    the server's cache hints: it is the operator's word for this feed."""
    base = max(rhythm_interval(per_day, settings, bounds), hint)
    delay = base * (1 + (rng or random).uniform(0, JITTER))
    return min(delay, bounds[1]) if bounds is not None else delay


def failure_state(errors: int, settings: FetcherSettings) -> str:
    return "dead" if errors >= settings.dead_after_errors else "backing_off"


def next_failure_delay(errors: int, settings: FetcherSettings, retry_after: float | None = None,
                       rng: random.Random | None = None, bounds: Bounds | None = None) -> float:
    """Seconds until the next try after ``errors`` failures in a row: backoff with full jitter (within
    the feed's own bounds when it has them)."""
    r = rng or random
    if errors >= settings.dead_after_errors:
        delay = settings.dead_probe_interval_seconds * (1 + r.uniform(0, JITTER))
    else:
        low, high = bounds or (settings.min_poll_interval_seconds, settings.max_poll_interval_seconds)
        ceiling = min(high, low * 2 ** min(errors, 30))
        delay = r.uniform(low, max(ceiling, low))
    if retry_after is not None:
        delay = max(delay, min(retry_after, HINT_CEILING))
    return delay
