-- Issue 17.6: media on the record. The article's lead image URL, its media objects (enclosures,
-- media:content, JSON Feed attachments: a JSON list of {url, type, length, duration, medium}) and
-- the category tags of the feed it came from (a JSON list of strings), as columns beside the
-- document that already carries them (messages SCHEMA_VERSION 2). Rows stored before this
-- migration get them from their document (v1 documents have none: NULL, '[]', '[]').
ALTER TABLE articles
    ADD COLUMN image text,
    ADD COLUMN media jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN tags jsonb NOT NULL DEFAULT '[]';
UPDATE articles SET
    image = doc->>'image',
    media = COALESCE(doc->'media', '[]'),
    tags = COALESCE(doc->'tags', '[]')
WHERE doc->>'image' IS NOT NULL
   OR jsonb_array_length(COALESCE(doc->'media', '[]')) > 0
   OR jsonb_array_length(COALESCE(doc->'tags', '[]')) > 0;
