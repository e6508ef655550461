-- Per-feed options (issue 17; services/fetcher/feedoptions.py, docs/fetcher.md "Per-feed options"):
-- the options of the feed's line in the list as JSON ([[key, value], ...]; an environment
-- variable's NAME, never its value), so that every replica polls with them, and whether the list
-- disables the feed (listed and shown by `feeds status`, never polled: DUE has `disabled = 0`).
ALTER TABLE feeds ADD COLUMN options TEXT;
ALTER TABLE feeds ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
