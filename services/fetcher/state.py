"""The fetcher's memory, in SQLite beside the data directory (``<data_dir>/fetcher.db``).

* ``feeds``: per feed of the list: conditional-GET validators, schedule,
  error count and state (active, backing_off, dead, retired), and the URL it
  moved to after a permanent redirect (``moved_to``; polled instead of the
  listed URL).
* ``entries``: per feed and entry identity: the article id and the content
  hash last seen, so a changed entry is re-published as an update.
* ``seen``: per article id (across feeds): what was published, plus the
  page's validators for conditional GET. The same article in two feeds is
  fetched once.

Rows of ``entries`` and ``seen`` not seen for ``seen_horizon_days`` are
deleted (:meth:`FetcherState.expire`), which keeps the file bounded by the
feeds' own size, not by time.

The schema is versioned: numbered SQL files in :mod:`services.fetcher.migrations`,
applied by :func:`services.common.sqlite.migrate` when the file is opened.

Replicas share this state (leases, the feed list, per-host slots: :mod:`services.fetcher.leases`):
several processes on one machine share the SQLite file (WAL, ``BEGIN IMMEDIATE``); replicas on
many machines share a PostgreSQL database (:mod:`services.fetcher.pgstate`), with the same SQL.
A state opened with an ``owner`` (a running fetcher) writes a feed's row after a poll only while
it holds the feed's lease.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.common.sqlite import migrate
from services.fetcher.feedoptions import FeedOptions, OptionError
from services.fetcher.leases import DUE, FEED_COLUMNS, Db, SharedSchedule

FEED_STATES = ("active", "backing_off", "dead", "retired", "disabled")  # disabled: by the list (a column, not a state)


@dataclass(frozen=True)
class FeedState:
    url: str
    etag: str | None
    last_modified: str | None
    next_poll_at: float
    error_count: int
    state: str
    moved_to: str | None = None
    last_error: str | None = None
    last_status: int | None = None
    entries_per_day: float | None = None
    options_json: str | None = None  # the feed's options in the list (feedoptions.FeedOptions.to_json)

    @property
    def options(self) -> FeedOptions:
        """The feed's per-feed options; raises :class:`~services.fetcher.feedoptions.OptionError` when unreadable."""
        return FeedOptions.from_json(self.options_json)

    @property
    def fetch_url(self) -> str:
        """Where to poll: the listed URL, or where a permanent redirect moved it."""
        return self.moved_to or self.url


@dataclass(frozen=True)
class FeedReport:
    """Everything the state knows of one feed, for ``newsflow feeds status``."""

    url: str
    listed: bool
    state: str
    moved_to: str | None
    title: str | None
    last_polled_at: float | None
    last_success_at: float | None
    last_status: int | None
    last_error: str | None
    error_count: int
    next_poll_at: float
    entries_per_day: float | None
    etag: str | None
    last_modified: str | None
    lease_owner: str | None
    lease_until: float | None
    pages_given_up: int
    last_page_error: str | None
    options: str | None = None  # the feed's options as stored (JSON; literal secrets too): show masked_options()
    disabled: bool = False  # disabled=true in the feed list: listed, never polled
    robots_disallowed: int = 0  # entries' pages robots.txt disallows: not fetched, given up
    last_robots_disallowed: str | None = None

    @property
    def never_succeeded(self) -> bool:
        """Polled (or refused) at least once and never successfully: a feed an operator must look at."""
        return self.last_success_at is None and (self.last_polled_at is not None or self.error_count > 0)

    def leased(self, now: float) -> bool:
        return self.lease_owner is not None and (self.lease_until or 0) > now

    def masked_options(self) -> list[tuple[str, str]]:
        """The feed's options fit to show: environment variable names, never a secret's value."""
        try:
            return FeedOptions.from_json(self.options).masked()
        except OptionError as exc:
            return [("unreadable", str(exc))]


REPORT_COLUMNS = ("url, listed, state, moved_to, title, last_polled_at, last_success_at, last_status, last_error, "
                  "error_count, next_poll_at, entries_per_day, etag, last_modified, lease_owner, lease_until, "
                  "options, disabled, "
                  "pages_given_up, last_page_error, robots_disallowed, last_robots_disallowed")


@dataclass(frozen=True)
class KnownEntry:
    entry_id: str
    article_id: str
    entry_hash: str


_FEED_COLUMNS = FEED_COLUMNS
LEASE_SECONDS = 30.0
HOST_HOLD_SECONDS = 65.0


class FetcherState(SharedSchedule):
    """The fetcher's state; used from one event-loop thread per process. This class: the SQLite file."""

    begin = "BEGIN IMMEDIATE"  # take the write lock first: another process cannot slip in between

    def __init__(self, path: Path, owner: str | None = None, lease_seconds: float = LEASE_SECONDS,
                 host_hold_seconds: float = HOST_HOLD_SECONDS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across crashes, no fsync per poll
        db.execute("PRAGMA busy_timeout=10000")  # other replicas hold the write lock for a statement or two
        migrate(db, "services.fetcher.migrations", where=str(path))
        self.db: Db = db
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.host_hold_seconds = host_hold_seconds

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around the block; nested blocks join the outer one (one commit per poll)."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute(self.begin)
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- feeds -------------------------------------------------------------------------------

    def sync_feeds(self, urls: list[str]) -> None:
        """Add feeds (due now) to the listed ones; the others stay as they are (see ``replace_feed_list``)."""
        with self.transaction():
            self.db.executemany("INSERT INTO feeds (url) VALUES (?) ON CONFLICT (url) DO UPDATE SET listed = 1",
                                [(u,) for u in urls])

    def due(self, now: float, urls: list[str]) -> list[FeedState]:
        """Feeds of ``urls`` whose next poll time has come (retired and unlisted feeds never are); no lease."""
        rows = self.db.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE {DUE} AND next_poll_at <= ? ORDER BY next_poll_at", (now,)
        ).fetchall()
        wanted = set(urls)
        return [FeedState(*row) for row in rows if row[0] in wanted]

    def claim_due(self, now: float, limit: int | None, due_by: float | None = None,
                  unpolled_since: float | None = None) -> tuple[list[FeedState], int]:
        """:meth:`claim` as :class:`FeedState` rows (and how many were taken over from expired leases)."""
        rows, taken_over = self.claim(now, limit, due_by, unpolled_since)
        return [FeedState(*row) for row in rows], taken_over

    def polled(
        self, url: str, *, next_poll_at: float, status: int | None,
        etag: str | None = None, last_modified: str | None = None,
        entries_per_day: float | None = None, title: str | None = None, now: float | None = None,
    ) -> None:
        """A successful poll (200 or 304): errors reset, the feed is active again; the lease ends."""
        self.guarded_feed_update(
            url, "next_poll_at = ?, last_status = ?, error_count = 0, state = 'active', "
            "last_error = NULL, etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified), "
            "entries_per_day = COALESCE(?, entries_per_day), title = COALESCE(?, title), last_polled_at = ?, "
            "last_success_at = ?",
            (next_poll_at, status, etag, last_modified, entries_per_day, title, now or time.time(), now or time.time()),
            release=True,
        )

    def failed(self, url: str, *, next_poll_at: float, error: str, state: str,
               status: int | None = None, now: float | None = None) -> int:
        """Record a failed poll; returns the new consecutive error count. The lease ends."""
        self.guarded_feed_update(
            url, "next_poll_at = ?, error_count = error_count + 1, state = ?, "
            "last_error = ?, last_status = ?, last_polled_at = ?",
            (next_poll_at, state, error[:500], status, now or time.time()), release=True,
        )
        row = self.db.execute("SELECT error_count FROM feeds WHERE url = ?", (url,)).fetchone()
        return int(row[0]) if row else 0

    def moved(self, url: str, new_url: str) -> None:
        """A permanent redirect (301/308): poll ``new_url`` from now on; validators belong to the old URL."""
        self.guarded_feed_update(url, "moved_to = ?, etag = NULL, last_modified = NULL", (new_url,), release=False)

    def retire(self, url: str, reason: str, status: int | None = None) -> None:
        """410 Gone: the feed is never polled again (until it is removed from and re-added to the list)."""
        self.guarded_feed_update(url, "state = 'retired', last_error = ?, last_status = ?", (reason[:500], status),
                                 release=True)

    def clamp_schedule(self, now: float, min_interval: float, max_interval: float, dead_interval: float) -> int:
        """Make stored schedules obey the interval bounds of this start; returns the feeds rescheduled.

        A lowered maximum brings far polls closer (``now + max``; a dead feed's probe within the
        dead probe interval); a raised minimum pushes an active feed's next poll to at least its last
        poll + min. Feeds being polled (leased) are left alone.
        """
        free = "(lease_owner IS NULL OR lease_until <= ?)"
        with self.transaction():
            n = self.db.execute(f"UPDATE feeds SET next_poll_at = ? WHERE {DUE} AND {free} AND state != 'dead' "
                                "AND next_poll_at > ?", (now + max_interval, now, now + max_interval)).rowcount
            n += self.db.execute(f"UPDATE feeds SET next_poll_at = ? WHERE {DUE} AND {free} AND state = 'dead' "
                                 "AND next_poll_at > ?", (now + dead_interval, now, now + dead_interval)).rowcount
            n += self.db.execute(f"UPDATE feeds SET next_poll_at = last_polled_at + ? WHERE {DUE} AND {free} "
                                 "AND state = 'active' AND last_polled_at IS NOT NULL AND next_poll_at < last_polled_at + ?",
                                 (min_interval, now, min_interval)).rowcount
        return n

    def poll_now(self, urls: list[str] | None, now: float) -> list[str]:
        """Make feeds due now (all listed ones with None), for whichever replica claims them first.

        Retired feeds and feeds being polled right now are left alone; returns the URLs made due.
        """
        where = f"{DUE} AND (lease_owner IS NULL OR lease_until <= ?)"
        with self.transaction():
            if urls is None:
                rows = self.db.execute(f"SELECT url FROM feeds WHERE {where}", (now,)).fetchall()
            else:
                rows = [r for u in urls for r in self.db.execute(
                    f"SELECT url FROM feeds WHERE {where} AND (url = ? OR moved_to = ?)", (now, u, u)).fetchall()]
            due = [str(r[0]) for r in rows]
            self.db.executemany("UPDATE feeds SET next_poll_at = ? WHERE url = ?", [(now, u) for u in due])
        return due

    # --- pages that keep failing ---------------------------------------------------------------

    def page_failed(self, article_id: str, feed_url: str, error: str, now: float) -> int:
        """One more failed attempt at an entry's page (a timeout, a network error); returns the attempts so far."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO page_attempts (article_id, feed_url, attempts, last_error, last_at) VALUES (?, ?, 1, ?, ?) "
                "ON CONFLICT (article_id) DO UPDATE SET attempts = page_attempts.attempts + 1, "
                "last_error = excluded.last_error, last_at = excluded.last_at",
                (article_id, feed_url, error[:500], now))
            row = self.db.execute("SELECT attempts FROM page_attempts WHERE article_id = ?", (article_id,)).fetchone()
        return int(row[0]) if row else 1

    def pages_given_up(self, feed_url: str, count: int, error: str) -> None:
        """Pages of ``feed_url`` given up in this poll: counted on the feed's row with the last error."""
        self.guarded_feed_update(feed_url, "pages_given_up = pages_given_up + ?, last_page_error = ?",
                                 (count, error[:500]), release=False)

    def robots_disallowed(self, feed_url: str, count: int, url: str) -> None:
        """Pages of ``feed_url`` that robots.txt disallowed in this poll: counted on the feed's row with the last URL."""
        self.guarded_feed_update(feed_url, "robots_disallowed = robots_disallowed + ?, last_robots_disallowed = ?",
                                 (count, url[:500]), release=False)

    def feed(self, url: str) -> FeedState | None:
        row = self.db.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)).fetchone()
        return FeedState(*row) if row else None

    def feed_report(self, url: str) -> FeedReport | None:
        """One feed by its listed URL or the URL it moved to."""
        row = self.db.execute(f"SELECT {REPORT_COLUMNS} FROM feeds WHERE url = ? OR moved_to = ? "
                              "ORDER BY listed DESC LIMIT 1", (url, url)).fetchone()
        return _report(row) if row else None

    def feed_reports(self) -> list[FeedReport]:
        """Every listed feed, by URL."""
        return [_report(row) for row in self.db.execute(
            f"SELECT {REPORT_COLUMNS} FROM feeds WHERE listed = 1 ORDER BY url").fetchall()]

    def feeds(self) -> list[FeedState]:
        return [FeedState(*row) for row in self.db.execute(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY url")]

    def moved_and_titles(self) -> dict[str, tuple[str | None, str | None]]:
        """Every known feed's ``(moved_to, title)``, by listed URL (for ``newsflow feeds export``)."""
        return {row[0]: (row[1], row[2]) for row in self.db.execute("SELECT url, moved_to, title FROM feeds")}

    # --- entries and articles ----------------------------------------------------------------

    def known_entries(self, feed_url: str, entry_ids: list[str], article_ids: list[str]
                      ) -> tuple[dict[str, KnownEntry], dict[str, KnownEntry]]:
        """This feed's known entries, by entry id and by article id (a GUID that changed is caught by the link)."""
        by_id: dict[str, KnownEntry] = {}
        by_article: dict[str, KnownEntry] = {}
        for chunk in _chunks(entry_ids):
            for row in self.db.execute(
                f"SELECT entry_id, article_id, entry_hash FROM entries WHERE feed_url = ? "
                f"AND entry_id IN ({','.join('?' * len(chunk))})", (feed_url, *chunk),
            ):
                by_id[row[0]] = KnownEntry(*row)
        for chunk in _chunks(article_ids):
            for row in self.db.execute(
                f"SELECT entry_id, article_id, entry_hash FROM entries WHERE feed_url = ? "
                f"AND article_id IN ({','.join('?' * len(chunk))})", (feed_url, *chunk),
            ):
                by_article[row[1]] = KnownEntry(*row)
        return by_id, by_article

    def seen_articles(self, article_ids: list[str]) -> set[str]:
        """Which of ``article_ids`` were published already (from any feed)."""
        found: set[str] = set()
        for chunk in _chunks(article_ids):
            found.update(row[0] for row in self.db.execute(
                f"SELECT article_id FROM seen WHERE article_id IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def page_validators(self, article_id: str) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT page_etag, page_last_modified FROM seen WHERE article_id = ?",
                              (article_id,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def seen_hash(self, article_id: str) -> str | None:
        row = self.db.execute("SELECT entry_hash FROM seen WHERE article_id = ?", (article_id,)).fetchone()
        return str(row[0]) if row else None

    def remember_entries(self, feed_url: str, items: list[tuple[str, str, str]], now: float | None = None) -> None:
        """Record ``(entry_id, article_id, entry_hash)`` of ``feed_url`` as seen now."""
        if not items:
            return
        now = now or time.time()
        with self.transaction():
            self.db.executemany(
                "INSERT INTO entries (feed_url, entry_id, article_id, entry_hash, last_seen_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (feed_url, entry_id) DO UPDATE SET article_id = excluded.article_id, "
                "entry_hash = excluded.entry_hash, last_seen_at = excluded.last_seen_at",
                [(feed_url, eid, aid, digest, now) for eid, aid, digest in items],
            )

    def mark_published(self, items: list[tuple[str, str]], now: float | None = None,
                       validators: dict[str, tuple[str | None, str | None]] | None = None) -> None:
        """Remember ``(article_id, entry_hash)`` pairs once their pages are durable in Kafka."""
        if not items:
            return
        now = now or time.time()
        validators = validators or {}
        with self.transaction():
            self.db.executemany("DELETE FROM page_attempts WHERE article_id = ?", [(aid,) for aid, _ in items])
            self.db.executemany(
                "INSERT INTO seen (article_id, entry_hash, first_seen_at, last_seen_at, page_etag, page_last_modified) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (article_id) DO UPDATE SET entry_hash = excluded.entry_hash, "
                "last_seen_at = excluded.last_seen_at, page_etag = COALESCE(excluded.page_etag, seen.page_etag), "
                "page_last_modified = COALESCE(excluded.page_last_modified, seen.page_last_modified)",
                [(aid, h, now, now, *validators.get(aid, (None, None))) for aid, h in items],
            )

    def touch_articles(self, article_ids: list[str], now: float | None = None) -> None:
        """Articles still present in a feed do not expire."""
        if not article_ids:
            return
        now = now or time.time()
        with self.transaction():
            self.db.executemany("UPDATE seen SET last_seen_at = ? WHERE article_id = ?",
                                [(now, a) for a in article_ids])

    def expire(self, older_than: float) -> int:
        """Forget entries and articles not seen since ``older_than``; returns the rows deleted."""
        with self.transaction():
            n = self.db.execute("DELETE FROM entries WHERE last_seen_at < ?", (older_than,)).rowcount
            n += self.db.execute("DELETE FROM seen WHERE last_seen_at < ?", (older_than,)).rowcount
            n += self.db.execute("DELETE FROM page_attempts WHERE last_at < ?", (older_than,)).rowcount
        return n

    def expire_seen(self, older_than: float) -> int:
        return self.expire(older_than)

    def published_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT article_id FROM seen")}

    def close(self) -> None:
        self.db.close()


def _report(row: Iterable[object]) -> FeedReport:
    """A row of ``REPORT_COLUMNS`` as a report, field by column name (columns may be added in any order)."""
    values = dict(zip((c.strip() for c in REPORT_COLUMNS.split(",")), row, strict=True))
    values["listed"] = bool(values["listed"])
    values["disabled"] = bool(values["disabled"])
    return FeedReport(**values)  # type: ignore[arg-type]


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
