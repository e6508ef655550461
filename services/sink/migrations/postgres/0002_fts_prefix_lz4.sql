-- Write speed (issue #6 benchmark; figures in docs/storage.md):
--
-- 1. lz4 instead of pglz for the TOASTed columns (text, doc, fts): compressing ~12 KB per article
--    with pglz cost ~0.2 ms of the ~0.27 ms a row without full text took; lz4 ~0.05 ms. Only new
--    values are compressed with lz4; old ones stay readable as they are. A server built without
--    lz4 keeps pglz (a NOTICE says so).
-- 2. Full text indexes the title and the first 2,000 characters of the text, not all of it:
--    PostgreSQL's parser costs ~0.12 ms per KB, so the whole 5 KB text capped writes near
--    1,000 articles/s on this machine. News puts the lede first; a word that only appears after
--    the first 2,000 characters is not found by search (SQLite indexes all of the text).
--    Re-adding the column recomputes it for every stored article (a table rewrite, once).
DO $$
BEGIN
    ALTER TABLE articles ALTER COLUMN text SET COMPRESSION lz4, ALTER COLUMN doc SET COMPRESSION lz4;
    ALTER TABLE article_revisions ALTER COLUMN doc SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no lz4: article text and documents stay compressed with pglz';
END $$;

DROP INDEX articles_fts;
ALTER TABLE articles DROP COLUMN fts;
ALTER TABLE articles ADD COLUMN fts tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector(fts_config, COALESCE(title, '')), 'A')
    || setweight(to_tsvector(fts_config, left(text, 2000)), 'B')) STORED;
DO $$
BEGIN
    ALTER TABLE articles ALTER COLUMN fts SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;  -- reported above
END $$;
CREATE INDEX articles_fts ON articles USING gin (fts);
