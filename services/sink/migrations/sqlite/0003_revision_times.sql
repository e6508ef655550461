-- Issue 16.7: every kept version records when it was stored, and an article keeps the
-- first_seen_at it was first stored with.
--
-- article_revisions.stored_at: when the version was stored (replaced_at stays: when it left the
-- articles table). Versions kept before this migration get the closest time known: the
-- replacement of the version before them, else their own first_seen_at, else replaced_at.
ALTER TABLE article_revisions ADD COLUMN stored_at TEXT;
UPDATE article_revisions SET stored_at = COALESCE(
    (SELECT p.replaced_at FROM article_revisions p
      WHERE p.article_id = article_revisions.article_id AND p.revision < article_revisions.revision
      ORDER BY p.revision DESC LIMIT 1),
    json_extract(doc, '$.first_seen_at'),
    replaced_at);

-- Updates used to overwrite first_seen_at: give the current row the earliest one its kept
-- versions carry (column and document alike).
UPDATE articles SET
    first_seen_at = (SELECT MIN(json_extract(r.doc, '$.first_seen_at')) FROM article_revisions r
                      WHERE r.article_id = articles.id),
    doc = json_set(doc, '$.first_seen_at', (SELECT MIN(json_extract(r.doc, '$.first_seen_at'))
                                              FROM article_revisions r WHERE r.article_id = articles.id))
WHERE (SELECT MIN(json_extract(r.doc, '$.first_seen_at')) FROM article_revisions r WHERE r.article_id = articles.id)
      < COALESCE(json_extract(doc, '$.first_seen_at'), '9999');
