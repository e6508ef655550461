-- Fetcher replicas share this file (docs/scaling.md): a feed is polled under a lease (owner +
-- lease_until; claiming pushes next_poll_at to the lease's end, so an expired lease is simply due
-- again); `listed` says whether the feed list holds the feed (a removed feed keeps its history);
-- per-host politeness is shared through hosts (next allowed request start) and host_slots
-- (requests in flight, each with an expiry so that a killed replica's slots free themselves).
ALTER TABLE feeds ADD COLUMN listed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
ALTER TABLE feeds ADD COLUMN lease_until REAL;
CREATE INDEX feeds_due ON feeds (next_poll_at) WHERE listed = 1 AND state != 'retired';
CREATE INDEX feeds_leased ON feeds (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE hosts (
    host        TEXT PRIMARY KEY,
    next_start  REAL NOT NULL
);
CREATE TABLE host_slots (
    host   TEXT NOT NULL,
    slot   INTEGER NOT NULL,
    owner  TEXT NOT NULL,
    until  REAL NOT NULL,
    PRIMARY KEY (host, slot)
);
CREATE TABLE feed_lists (
    name       TEXT PRIMARY KEY,
    digest     TEXT NOT NULL,
    synced_at  REAL NOT NULL
);
