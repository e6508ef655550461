-- Issue 16.1: an id prefix as tables show it (`514663f71f7c`, `story-cafee2`) finds its article or
-- story: `id LIKE 'prefix%'`, which a btree serves only with text_pattern_ops when the database's
-- collation is not C. The story index is replaced (text_pattern_ops serves equality as well).
CREATE INDEX articles_id_prefix ON articles (id text_pattern_ops);
DROP INDEX articles_story;
CREATE INDEX articles_story ON articles (story_id text_pattern_ops);
