"""The fetcher state's versioned schema: a new file, and a file made before schemas were versioned."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from services.common.sqlite import migrations_in, schema_version
from services.fetcher.state import FetcherState

# Every numbered file in services/fetcher/migrations (0003: last success, pages given up, page attempts;
# 0004: robots.txt refusals per feed; later ones add their own columns).
LATEST = max(m.version for m in migrations_in("services.fetcher.migrations"))

# What the fetcher made before its schema was versioned: this script, then the added columns in place.
UNVERSIONED_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,
    next_poll_at REAL NOT NULL DEFAULT 0, error_count INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'active', last_status INTEGER, last_error TEXT, moved_to TEXT);
CREATE TABLE IF NOT EXISTS seen (article_id TEXT PRIMARY KEY, entry_hash TEXT NOT NULL,
    first_seen_at REAL NOT NULL, last_seen_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS seen_last ON seen (last_seen_at);
CREATE TABLE IF NOT EXISTS entries (feed_url TEXT NOT NULL, entry_id TEXT NOT NULL, article_id TEXT NOT NULL,
    entry_hash TEXT NOT NULL, last_seen_at REAL NOT NULL, PRIMARY KEY (feed_url, entry_id));
CREATE INDEX IF NOT EXISTS entries_article ON entries (feed_url, article_id);
CREATE INDEX IF NOT EXISTS entries_last ON entries (last_seen_at);
ALTER TABLE feeds ADD COLUMN last_polled_at REAL;
ALTER TABLE feeds ADD COLUMN entries_per_day REAL;
ALTER TABLE feeds ADD COLUMN title TEXT;
ALTER TABLE seen ADD COLUMN page_etag TEXT;
ALTER TABLE seen ADD COLUMN page_last_modified TEXT;
"""


def _layout(path: Path) -> dict[str, list[tuple[str, str]]]:
    db = sqlite3.connect(path)
    try:
        return {table: [(row[1], row[2]) for row in db.execute(f"PRAGMA table_info({table})")]
                for table in ("feeds", "seen", "entries")}
    finally:
        db.close()


def test_a_new_file_gets_the_versioned_schema(tmp_path: Path) -> None:
    state = FetcherState(tmp_path / "fetcher.db")
    try:
        assert schema_version(state.db) == LATEST >= 4
        state.sync_feeds(["https://a.example/feed"])
        state.polled("https://a.example/feed", next_poll_at=1.0, status=200, title="A", entries_per_day=2.0)
        state.mark_published([("aid", "h")], validators={"aid": ("etag", None)})
        assert state.page_validators("aid") == ("etag", None)
    finally:
        state.close()
    reopened = FetcherState(tmp_path / "fetcher.db")
    try:
        feed = reopened.feed("https://a.example/feed")
        assert feed is not None and feed.entries_per_day == 2.0
    finally:
        reopened.close()


def test_a_file_made_before_versioning_is_adopted_with_its_data(tmp_path: Path) -> None:
    old = tmp_path / "old" / "fetcher.db"
    old.parent.mkdir()
    db = sqlite3.connect(old)
    db.executescript(UNVERSIONED_SCHEMA)
    db.execute("INSERT INTO feeds (url, etag, title, entries_per_day) VALUES ('https://a.example/feed', 'e1', 'A', 3)")
    db.execute("INSERT INTO seen VALUES ('aid', 'h', 1, 2, 'pe', 'plm')")
    db.execute("INSERT INTO entries VALUES ('https://a.example/feed', 'guid', 'aid', 'h', 2)")
    db.commit()
    db.close()
    state = FetcherState(old)
    try:
        assert schema_version(state.db) == LATEST >= 4
        feed = state.feed("https://a.example/feed")
        assert feed is not None and (feed.etag, feed.entries_per_day) == ("e1", 3.0)
        assert state.page_validators("aid") == ("pe", "plm")
        by_id, _ = state.known_entries("https://a.example/feed", ["guid"], [])
        assert by_id["guid"].article_id == "aid"
    finally:
        state.close()
    FetcherState(tmp_path / "fetcher.db").close()
    assert _layout(old) == _layout(tmp_path / "fetcher.db")  # adopted and new files have the same columns
