-- Issue 16.8: full text indexes the title and the WHOLE text again, as SQLite's FTS5 does, so that
-- both backends answer a search alike (0002 had cut it to the first 2,000 characters for write
-- speed: a word at character 2,829 was found on SQLite only). The cost (PostgreSQL's parser, about
-- 0.1 ms per KB of text) and the write rates before and after are in docs/storage.md.
-- Re-adding the column recomputes it for every stored article (a table rewrite, once).
DROP INDEX articles_fts;
ALTER TABLE articles DROP COLUMN fts;
ALTER TABLE articles ADD COLUMN fts tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector(fts_config, COALESCE(title, '')), 'A')
    || setweight(to_tsvector(fts_config, text), 'B')) STORED;
DO $$
BEGIN
    ALTER TABLE articles ALTER COLUMN fts SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;  -- no lz4 in this server: pglz (0002 said so)
END $$;
CREATE INDEX articles_fts ON articles USING gin (fts);
