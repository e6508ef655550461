-- The fetcher's shared state in PostgreSQL: the same tables and columns as the SQLite file after
-- its migration 0002 (services/fetcher/migrations), in its own schema (newsflow_fetcher unless the
-- URL sets a search_path), so that it never meets the sink's or another stage's tables.
CREATE TABLE feeds (
    url              TEXT PRIMARY KEY,
    etag             TEXT,
    last_modified    TEXT,
    next_poll_at     DOUBLE PRECISION NOT NULL DEFAULT 0,
    error_count      INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'active',
    last_status      INTEGER,
    last_error       TEXT,
    moved_to         TEXT,
    last_polled_at   DOUBLE PRECISION,
    entries_per_day  DOUBLE PRECISION,
    title            TEXT,
    listed           INTEGER NOT NULL DEFAULT 1,
    lease_owner      TEXT,
    lease_until      DOUBLE PRECISION
);
CREATE INDEX feeds_due ON feeds (next_poll_at) WHERE listed = 1 AND state != 'retired';
CREATE INDEX feeds_leased ON feeds (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE seen (
    article_id          TEXT PRIMARY KEY,
    entry_hash          TEXT NOT NULL,
    first_seen_at       DOUBLE PRECISION NOT NULL,
    last_seen_at        DOUBLE PRECISION NOT NULL,
    page_etag           TEXT,
    page_last_modified  TEXT
);
CREATE INDEX seen_last ON seen (last_seen_at);
CREATE TABLE entries (
    feed_url       TEXT NOT NULL,
    entry_id       TEXT NOT NULL,
    article_id     TEXT NOT NULL,
    entry_hash     TEXT NOT NULL,
    last_seen_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (feed_url, entry_id)
);
CREATE INDEX entries_article ON entries (feed_url, article_id);
CREATE INDEX entries_last ON entries (last_seen_at);
CREATE TABLE hosts (
    host        TEXT PRIMARY KEY,
    next_start  DOUBLE PRECISION NOT NULL
);
CREATE TABLE host_slots (
    host   TEXT NOT NULL,
    slot   INTEGER NOT NULL,
    owner  TEXT NOT NULL,
    until  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (host, slot)
);
CREATE TABLE feed_lists (
    name       TEXT PRIMARY KEY,
    digest     TEXT NOT NULL,
    synced_at  DOUBLE PRECISION NOT NULL
);
