-- As the SQLite migration 0005_websub.sql.
-- WebSub subscriptions (services/fetcher/websub.py, docs/fetcher.md "WebSub push"): one per feed
-- (the listed URL), shared by the replicas: any replica behind the callback address answers a hub
-- from this table. `id` is the unguessable last part of the callback URL; `secret` signs the
-- pushes (HMAC); `signature_method` is the strongest one the hub used (sha1 is refused after a
-- better one was seen); `expires_at` is the verified lease's end.
CREATE TABLE websub_subscriptions (
    feed_url          TEXT PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    topic             TEXT NOT NULL,
    hub               TEXT NOT NULL,
    secret            TEXT NOT NULL,
    state             TEXT NOT NULL,
    lease_seconds     DOUBLE PRECISION,
    requested_at      DOUBLE PRECISION NOT NULL,
    verified_at       DOUBLE PRECISION,
    expires_at        DOUBLE PRECISION,
    signature_method  TEXT,
    last_error        TEXT
);
