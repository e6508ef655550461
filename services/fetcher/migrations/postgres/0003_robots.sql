-- As the SQLite migration 0004_robots.sql: an entry's page that the site's robots.txt disallows for
-- newsflow is not fetched; it is given up and counted on its feed's row, with the last such URL.
ALTER TABLE feeds ADD COLUMN robots_disallowed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN last_robots_disallowed TEXT;
