-- The fetcher's state as it was before schemas were versioned. IF NOT EXISTS everywhere, so that
-- a file made by that code (which added the last columns of feeds and seen in place) is adopted
-- as it is. Columns keep that code's order: a new file and an adopted one have the same layout.
CREATE TABLE IF NOT EXISTS feeds (
    url              TEXT PRIMARY KEY,
    etag             TEXT,
    last_modified    TEXT,
    next_poll_at     REAL NOT NULL DEFAULT 0,
    error_count      INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'active',
    last_status      INTEGER,
    last_error       TEXT,
    moved_to         TEXT,
    last_polled_at   REAL,
    entries_per_day  REAL,
    title            TEXT
);
CREATE TABLE IF NOT EXISTS seen (
    article_id          TEXT PRIMARY KEY,
    entry_hash          TEXT NOT NULL,
    first_seen_at       REAL NOT NULL,
    last_seen_at        REAL NOT NULL,
    page_etag           TEXT,
    page_last_modified  TEXT
);
CREATE INDEX IF NOT EXISTS seen_last ON seen (last_seen_at);
CREATE TABLE IF NOT EXISTS entries (
    feed_url       TEXT NOT NULL,
    entry_id       TEXT NOT NULL,
    article_id     TEXT NOT NULL,
    entry_hash     TEXT NOT NULL,
    last_seen_at   REAL NOT NULL,
    PRIMARY KEY (feed_url, entry_id)
);
CREATE INDEX IF NOT EXISTS entries_article ON entries (feed_url, article_id);
CREATE INDEX IF NOT EXISTS entries_last ON entries (last_seen_at);
