"""The fetcher's memory, in SQLite beside the data directory.

Per feed: conditional-GET validators, schedule and error count. Per article:
what was published and with which content hash, so that a restart does not
publish everything again and a changed entry is re-published as an update.
Seen entries expire after a horizon, which keeps the file bounded.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url            TEXT PRIMARY KEY,
    etag           TEXT,
    last_modified  TEXT,
    next_poll_at   REAL NOT NULL DEFAULT 0,
    error_count    INTEGER NOT NULL DEFAULT 0,
    state          TEXT NOT NULL DEFAULT 'active',
    last_status    INTEGER,
    last_error     TEXT,
    moved_to       TEXT
);
CREATE TABLE IF NOT EXISTS seen (
    article_id     TEXT PRIMARY KEY,
    entry_hash     TEXT NOT NULL,
    first_seen_at  REAL NOT NULL,
    last_seen_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_last ON seen (last_seen_at);
"""


@dataclass(frozen=True)
class FeedState:
    url: str
    etag: str | None
    last_modified: str | None
    next_poll_at: float
    error_count: int
    state: str


class FetcherState:
    """One SQLite file; used from the fetcher's single event-loop thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def sync_feeds(self, urls: list[str]) -> None:
        """Make the table match the feed list: add new feeds (due now), keep the rest's history."""
        self.db.executemany("INSERT OR IGNORE INTO feeds (url) VALUES (?)", [(u,) for u in urls])

    def due(self, now: float, urls: list[str]) -> list[FeedState]:
        """Feeds of ``urls`` whose next poll time has come (retired feeds never are)."""
        rows = self.db.execute(
            "SELECT url, etag, last_modified, next_poll_at, error_count, state FROM feeds "
            "WHERE next_poll_at <= ? AND state != 'retired' ORDER BY next_poll_at", (now,)
        ).fetchall()
        wanted = set(urls)
        return [FeedState(*row) for row in rows if row[0] in wanted]

    def next_due_at(self) -> float | None:
        (value,) = self.db.execute(
            "SELECT MIN(next_poll_at) FROM feeds WHERE state != 'retired'"
        ).fetchone()
        return float(value) if value is not None else None

    def polled(
        self, url: str, *, next_poll_at: float, status: int | None,
        etag: str | None = None, last_modified: str | None = None,
    ) -> None:
        self.db.execute(
            "UPDATE feeds SET next_poll_at = ?, last_status = ?, error_count = 0, state = 'active', "
            "last_error = NULL, etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) "
            "WHERE url = ?", (next_poll_at, status, etag, last_modified, url),
        )

    def failed(self, url: str, *, next_poll_at: float, error: str, state: str,
               status: int | None = None) -> int:
        """Record a failed poll; returns the new consecutive error count."""
        self.db.execute(
            "UPDATE feeds SET next_poll_at = ?, error_count = error_count + 1, state = ?, "
            "last_error = ?, last_status = ? WHERE url = ?", (next_poll_at, state, error[:500], status, url),
        )
        (count,) = self.db.execute("SELECT error_count FROM feeds WHERE url = ?", (url,)).fetchone()
        return int(count)

    def feed(self, url: str) -> FeedState | None:
        row = self.db.execute(
            "SELECT url, etag, last_modified, next_poll_at, error_count, state FROM feeds WHERE url = ?",
            (url,),
        ).fetchone()
        return FeedState(*row) if row else None

    def counts_by_state(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM feeds GROUP BY state").fetchall())

    def seen_hash(self, article_id: str) -> str | None:
        row = self.db.execute("SELECT entry_hash FROM seen WHERE article_id = ?", (article_id,)).fetchone()
        return str(row[0]) if row else None

    def mark_published(self, items: list[tuple[str, str]], now: float | None = None) -> None:
        """Remember ``(article_id, entry_hash)`` pairs once their pages are durable in Kafka."""
        now = now or time.time()
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT INTO seen (article_id, entry_hash, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (article_id) DO UPDATE SET entry_hash = excluded.entry_hash, "
            "last_seen_at = excluded.last_seen_at",
            [(aid, h, now, now) for aid, h in items],
        )
        self.db.execute("COMMIT")

    def expire_seen(self, older_than: float) -> int:
        return self.db.execute("DELETE FROM seen WHERE last_seen_at < ?", (older_than,)).rowcount

    def published_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT article_id FROM seen")}

    def close(self) -> None:
        self.db.close()
