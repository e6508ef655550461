-- Issue 17.6: media on the record. The article's lead image URL, its media objects (enclosures,
-- media:content, JSON Feed attachments: a JSON list of {url, type, length, duration, medium}) and
-- the category tags of the feed it came from (a JSON list of strings), as columns beside the
-- document that already carries them (messages SCHEMA_VERSION 2). Rows stored before this
-- migration get them from their document (v1 documents have none: NULL, '[]', '[]').
ALTER TABLE articles ADD COLUMN image TEXT;
ALTER TABLE articles ADD COLUMN media TEXT NOT NULL DEFAULT '[]';
ALTER TABLE articles ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
UPDATE articles SET
    image = json_extract(doc, '$.image'),
    media = COALESCE(json_extract(doc, '$.media'), '[]'),
    tags = COALESCE(json_extract(doc, '$.tags'), '[]')
WHERE json_extract(doc, '$.image') IS NOT NULL
   OR json_array_length(doc, '$.media') > 0
   OR json_array_length(doc, '$.tags') > 0;
