"""``newsflow feeds status [URL]`` and ``newsflow feeds poll URL|--all``: see and steer feeds.

Both read or write the state the fetcher replicas share (:func:`~services.fetcher.pgstate.open_state`:
the SQLite file in the data directory, or PostgreSQL with ``NEWSFLOW_FETCHER_STATE_URL``), so they
work the same with one fetcher or many, and need no running fetcher to answer.

``feeds poll`` does not fetch anything itself: it makes the feeds due now in the shared state, and
whichever running replica claims them first polls them (a fetcher looks for due feeds at least
every 5 seconds). Feeds being polled right now (leased) and retired ones are left alone.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from datetime import UTC, datetime

import click

from services.common.commands import settings_or_exit
from services.fetcher.pgstate import open_state
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FeedReport, FetcherState
from services.fetcher.websub_store import Subscription, SubscriptionStore

NO_STATE_EXIT = 3


def _open(settings: FetcherSettings) -> FetcherState:
    if not settings.fetcher_state_url.get_secret_value() and not (settings.data_dir / "fetcher.db").exists():
        click.echo(f"no fetcher state yet ({settings.data_dir / 'fetcher.db'}): start the fetcher "
                   "(`newsflow up` or `newsflow fetcher`) to poll the feed list", err=True)
        sys.exit(NO_STATE_EXIT)
    try:
        return open_state(settings)
    except Exception as exc:  # noqa: BLE001 - a database that cannot be opened: one line, not a traceback
        click.echo(f"cannot open the fetcher state: {type(exc).__name__}: {exc}", err=True)
        sys.exit(NO_STATE_EXIT)


def when(stamp: float | None, now: float) -> str:
    """``2025-01-06 10:00:00Z (3m ago)`` / ``(in 4m)``; ``never`` for None."""
    if stamp is None:
        return "never"
    if stamp <= 0:
        return "before this was recorded"
    delta = stamp - now
    span = _span(abs(delta))
    rel = "now" if abs(delta) < 1 else (f"in {span}" if delta > 0 else f"{span} ago")
    return f"{datetime.fromtimestamp(stamp, UTC):%Y-%m-%d %H:%M:%S}Z ({rel})"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def outcome(report: FeedReport) -> str:
    """The last poll's outcome in a few words."""
    if report.last_polled_at is None and report.error_count == 0:
        return "not polled yet"
    if report.error_count:
        status = f"HTTP {report.last_status}: " if report.last_status else ""
        return f"failed: {status}{report.last_error or 'error'}"
    return f"ok (HTTP {report.last_status})" if report.last_status else "ok"


def next_poll(report: FeedReport, now: float) -> str:
    if report.state == "retired":
        return "never (retired: HTTP 410; remove it from and add it back to the feed list to poll again)"
    if not report.listed:
        return "never (not in the feed list)"
    if report.disabled:
        return "never (disabled=true in the feed list)"
    if report.leased(now):
        return f"being polled now by {report.lease_owner}"
    return "due now" if report.next_poll_at <= now else when(report.next_poll_at, now)


def describe(report: FeedReport, now: float, sub: Subscription | None = None) -> list[str]:
    """The long form of one feed, as lines (``sub``: its WebSub subscription)."""
    state = report.state + ("" if report.listed else ", not listed")
    state = f"disabled (by the feed list; was {state})" if report.disabled else state
    lines = [report.url, f"  state:          {state}"]
    options = report.masked_options()
    if options:
        lines.append(f"  options:        {' '.join(f'{k}={v}' for k, v in options)}")
    if report.moved_to:
        lines.append(f"  moved to:       {report.moved_to} (permanent redirect; polled there)")
    if report.title:
        lines.append(f"  title:          {report.title}")
    lines += [
        f"  last poll:      {when(report.last_polled_at, now)}: {outcome(report)}",
        f"  last success:   {'NEVER SUCCEEDED' if report.never_succeeded else when(report.last_success_at, now)}",
        f"  next poll:      {next_poll(report, now)}",
        f"  errors in a row: {report.error_count}",
        f"  entries/day:    {'unknown' if report.entries_per_day is None else f'{report.entries_per_day:.2f}'}",
        f"  validators:     ETag {report.etag or '-'}, Last-Modified {report.last_modified or '-'}",
    ]
    if report.lease_owner:
        lines.append(f"  lease:          {report.lease_owner} until {when(report.lease_until, now)}")
    if report.pages_given_up:
        lines.append(f"  pages given up: {report.pages_given_up} (last: {report.last_page_error})")
    if report.robots_disallowed:
        lines.append(f"  robots.txt:     {report.robots_disallowed} page(s) disallowed, not fetched "
                     f"(last: {report.last_robots_disallowed})")
    return lines + websub_lines(sub, now)


def websub_lines(sub: Subscription | None, now: float) -> list[str]:
    """A feed's WebSub subscription: hub, state, lease; never its secret nor its callback id (a push credential)."""
    if sub is None:
        return []
    state = sub.state + (" (pushes taken)" if sub.live(now) else "")
    topic = f", topic {sub.topic}" if sub.topic != sub.feed_url else ""
    lines = [f"  websub:         {state}, hub {sub.hub}{topic}", f"  websub asked:   {when(sub.requested_at, now)}"]
    if sub.verified_at is not None:
        lease = f"{sub.lease_seconds:g}s" if sub.lease_seconds is not None else "?"
        lines.append(f"  websub lease:   verified {when(sub.verified_at, now)}, {lease}, expires "
                     f"{when(sub.expires_at, now)}")
    if sub.signature_method:
        lines.append(f"  websub signed:  {sub.signature_method} (the strongest the hub used; weaker refused)")
    if sub.last_error:
        lines.append(f"  websub error:   {sub.last_error}")
    return lines


def websub_json(sub: Subscription | None) -> dict[str, object] | None:
    """The subscription as JSON, without ``secret`` and ``id`` (the callback id lets anyone push)."""
    if sub is None:
        return None
    return {k: v for k, v in dataclasses.asdict(sub).items() if k not in ("secret", "id", "feed_url")}


def table(reports: list[FeedReport], now: float, subs: dict[str, Subscription] | None = None) -> list[str]:
    """One line per feed (``[push]`` after a feed with a live WebSub subscription, ``[push: STATE]`` with
    another), then the counts by state and the feeds that never succeeded."""
    lines = [f"{'STATE':<12} {'LAST POLL':<10} {'NEXT POLL':<10} {'ERR':>3} {'/DAY':>6}  URL  (OUTCOME)"]
    for r in reports:
        last = _ago(r.last_polled_at, now)
        nxt = "polling" if r.leased(now) else ("-" if r.state == "retired" or r.disabled else
                                                ("due" if r.next_poll_at <= now else _span(r.next_poll_at - now)))
        per_day = "-" if r.entries_per_day is None else f"{r.entries_per_day:.1f}"
        state = ("disabled" if r.disabled else r.state) + ("*" if r.never_succeeded else "")
        lines.append(f"{state:<12} {last:<10} {nxt:<10} {r.error_count:>3} {per_day:>6}  {r.url}"
                     f"{_push_mark((subs or {}).get(r.url), now)}  ({outcome(r)[:200]})")
    counts: dict[str, int] = {}
    for r in reports:
        shown = "disabled" if r.disabled else r.state
        counts[shown] = counts.get(shown, 0) + 1
    never = [r for r in reports if r.never_succeeded]
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    lines.append(f"{len(reports)} feeds: {summary or 'none'}; {len(never)} never succeeded"
                 + (" (marked *)" if never else ""))
    return lines


def _push_mark(sub: Subscription | None, now: float) -> str:
    if sub is None:
        return ""
    return " [push]" if sub.live(now) else f" [push: {sub.state}]"


def _ago(stamp: float | None, now: float) -> str:
    return "never" if stamp is None else f"{_span(max(0.0, now - stamp))} ago"


def as_json(report: FeedReport, sub: Subscription | None = None) -> dict[str, object]:
    """The report as JSON; the options masked (environment variable names, never a secret's value); its
    WebSub subscription (null without one) without secret or callback id."""
    return {**dataclasses.asdict(report), "options": dict(report.masked_options()),
            "never_succeeded": report.never_succeeded, "websub": websub_json(sub)}


@click.command("status")
@click.argument("url", required=False)
@click.option("--json", "as_json_", is_flag=True, help="One JSON object per feed (a list without URL).")
def status(url: str | None, as_json_: bool) -> None:
    """Per-feed state: last poll and its outcome, next poll, errors, entries/day, validators, leases, WebSub."""
    settings = settings_or_exit(FetcherSettings)
    state = _open(settings)
    now = time.time()
    store = SubscriptionStore(state)
    try:
        if url is None:
            reports, subs = state.feed_reports(), store.by_feed()
            click.echo(json.dumps([as_json(r, subs.get(r.url)) for r in reports], indent=1) if as_json_
                       else "\n".join(table(reports, now, subs)))
            return
        report = state.feed_report(url)
        sub = store.for_feed(report.url) if report is not None else None
    finally:
        state.close()
    if report is None:
        click.echo(f"{url}: not in the fetcher's state (is it in {settings.feeds_file}? the fetcher adds listed "
                   "feeds when it starts or sees the file change)", err=True)
        sys.exit(1)
    click.echo(json.dumps(as_json(report, sub), indent=1) if as_json_ else "\n".join(describe(report, now, sub)))


@click.command("poll")
@click.argument("urls", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every listed feed.")
def poll(urls: tuple[str, ...], all_: bool) -> None:
    """Poll feeds now, through the running fetcher: they become due in the shared state."""
    if bool(urls) == all_:
        raise click.UsageError("give feed URLs or --all")
    settings = settings_or_exit(FetcherSettings)
    state = _open(settings)
    now = time.time()
    try:
        due = state.poll_now(None if all_ else list(urls), now)
        missing = [(u, state.feed_report(u)) for u in urls if u not in due and not _moved_in(state, u, due)]
    finally:
        state.close()
    click.echo(f"{len(due)} feed(s) due now: a running fetcher (any replica) polls them within a few seconds; "
               "see `newsflow feeds status`")
    for url, report in missing:
        if report is None:
            click.echo(f"{url}: not in the fetcher's state (not in {settings.feeds_file}?)", err=True)
        else:
            click.echo(f"{url}: not made due: {next_poll(report, now)}", err=True)
    if any(report is None for _, report in missing):
        sys.exit(1)


def _moved_in(state: FetcherState, url: str, due: list[str]) -> bool:
    report = state.feed_report(url)
    return report is not None and report.url in due
