-- As the SQLite migration 0003_pages.sql. What an operator needs to see per feed (newsflow feeds status) and pages that keep failing:
-- last_success_at (a feed polled but never successfully shows as "never succeeded"; rows with
-- evidence of an earlier success get their last poll time), pages given up and the last page
-- error, and page_attempts: fetches of an entry's page that timed out or failed on the network,
-- so a page that trickles is given up after NEWSFLOW_MAX_PAGE_ATTEMPTS instead of every poll.
ALTER TABLE feeds ADD COLUMN last_success_at DOUBLE PRECISION;
ALTER TABLE feeds ADD COLUMN pages_given_up INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN last_page_error TEXT;
UPDATE feeds SET last_success_at = COALESCE(last_polled_at, 0)
    WHERE error_count = 0 OR etag IS NOT NULL OR last_modified IS NOT NULL OR title IS NOT NULL
       OR entries_per_day IS NOT NULL;
CREATE TABLE page_attempts (
    article_id  TEXT PRIMARY KEY,
    feed_url    TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    last_error  TEXT,
    last_at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX page_attempts_last ON page_attempts (last_at);
