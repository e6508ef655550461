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
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.common.sqlite import migrate

FEED_STATES = ("active", "backing_off", "dead", "retired")


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

    @property
    def fetch_url(self) -> str:
        """Where to poll: the listed URL, or where a permanent redirect moved it."""
        return self.moved_to or self.url


@dataclass(frozen=True)
class KnownEntry:
    entry_id: str
    article_id: str
    entry_hash: str


_FEED_COLUMNS = ("url, etag, last_modified, next_poll_at, error_count, state, moved_to, last_error, last_status, "
                 "entries_per_day")


class FetcherState:
    """One SQLite file; used from the fetcher's single event-loop thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across crashes, no fsync per poll
        self.db.execute("PRAGMA busy_timeout=5000")
        migrate(self.db, "services.fetcher.migrations", where=str(path))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around the block; nested blocks join the outer one (one commit per poll)."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- feeds -------------------------------------------------------------------------------

    def sync_feeds(self, urls: list[str]) -> None:
        """Add the list's new feeds (due now); feeds dropped from the list keep their history."""
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO feeds (url) VALUES (?)", [(u,) for u in urls])

    def due(self, now: float, urls: list[str]) -> list[FeedState]:
        """Feeds of ``urls`` whose next poll time has come (retired feeds never are)."""
        rows = self.db.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE next_poll_at <= ? AND state != 'retired' "
            "ORDER BY next_poll_at", (now,)
        ).fetchall()
        wanted = set(urls)
        return [FeedState(*row) for row in rows if row[0] in wanted]

    def next_due_at(self, urls: Iterable[str] | None = None) -> float | None:
        if urls is None:
            (value,) = self.db.execute("SELECT MIN(next_poll_at) FROM feeds WHERE state != 'retired'").fetchone()
            return float(value) if value is not None else None
        wanted = set(urls)
        times = [t for u, t in self.db.execute("SELECT url, next_poll_at FROM feeds WHERE state != 'retired'")
                 if u in wanted]
        return min(times) if times else None

    def polled(
        self, url: str, *, next_poll_at: float, status: int | None,
        etag: str | None = None, last_modified: str | None = None,
        entries_per_day: float | None = None, title: str | None = None, now: float | None = None,
    ) -> None:
        """A successful poll (200 or 304): errors reset, the feed is active again."""
        self.db.execute(
            "UPDATE feeds SET next_poll_at = ?, last_status = ?, error_count = 0, state = 'active', "
            "last_error = NULL, etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified), "
            "entries_per_day = COALESCE(?, entries_per_day), title = COALESCE(?, title), last_polled_at = ? "
            "WHERE url = ?",
            (next_poll_at, status, etag, last_modified, entries_per_day, title, now or time.time(), url),
        )

    def failed(self, url: str, *, next_poll_at: float, error: str, state: str,
               status: int | None = None, now: float | None = None) -> int:
        """Record a failed poll; returns the new consecutive error count."""
        self.db.execute(
            "UPDATE feeds SET next_poll_at = ?, error_count = error_count + 1, state = ?, "
            "last_error = ?, last_status = ?, last_polled_at = ? WHERE url = ?",
            (next_poll_at, state, error[:500], status, now or time.time(), url),
        )
        row = self.db.execute("SELECT error_count FROM feeds WHERE url = ?", (url,)).fetchone()
        return int(row[0]) if row else 0

    def moved(self, url: str, new_url: str) -> None:
        """A permanent redirect (301/308): poll ``new_url`` from now on; validators belong to the old URL."""
        self.db.execute("UPDATE feeds SET moved_to = ?, etag = NULL, last_modified = NULL WHERE url = ?",
                        (new_url, url))

    def retire(self, url: str, reason: str, status: int | None = None) -> None:
        """410 Gone: the feed is never polled again (until it is removed from and re-added to the list)."""
        self.db.execute("UPDATE feeds SET state = 'retired', last_error = ?, last_status = ? WHERE url = ?",
                        (reason[:500], status, url))

    def feed(self, url: str) -> FeedState | None:
        row = self.db.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)).fetchone()
        return FeedState(*row) if row else None

    def feeds(self) -> list[FeedState]:
        return [FeedState(*row) for row in self.db.execute(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY url")]

    def moved_and_titles(self) -> dict[str, tuple[str | None, str | None]]:
        """Every known feed's ``(moved_to, title)``, by listed URL (for ``newsflow feeds export``)."""
        return {row[0]: (row[1], row[2]) for row in self.db.execute("SELECT url, moved_to, title FROM feeds")}

    def counts_by_state(self, urls: Iterable[str] | None = None) -> dict[str, int]:
        if urls is None:
            return dict(self.db.execute("SELECT state, COUNT(*) FROM feeds GROUP BY state").fetchall())
        wanted = set(urls)
        counts: dict[str, int] = {}
        for url, state in self.db.execute("SELECT url, state FROM feeds"):
            if url in wanted:
                counts[state] = counts.get(state, 0) + 1
        return counts

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
            self.db.executemany(
                "INSERT INTO seen (article_id, entry_hash, first_seen_at, last_seen_at, page_etag, page_last_modified) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (article_id) DO UPDATE SET entry_hash = excluded.entry_hash, "
                "last_seen_at = excluded.last_seen_at, page_etag = COALESCE(excluded.page_etag, page_etag), "
                "page_last_modified = COALESCE(excluded.page_last_modified, page_last_modified)",
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
        return n

    def expire_seen(self, older_than: float) -> int:
        return self.expire(older_than)

    def published_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT article_id FROM seen")}

    def close(self) -> None:
        self.db.close()


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
