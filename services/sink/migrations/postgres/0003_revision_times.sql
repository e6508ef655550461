-- Issue 16.7: every kept version records when it was stored, and an article keeps the
-- first_seen_at it was first stored with.
--
-- article_revisions.stored_at: when the version was stored (replaced_at stays: when it left the
-- articles table). Versions kept before this migration get the closest time known: the
-- replacement of the version before them, else their own first_seen_at, else replaced_at.
ALTER TABLE article_revisions ADD COLUMN stored_at timestamptz;
UPDATE article_revisions r SET stored_at = COALESCE(
    (SELECT p.replaced_at FROM article_revisions p
      WHERE p.article_id = r.article_id AND p.revision < r.revision ORDER BY p.revision DESC LIMIT 1),
    (r.doc->>'first_seen_at')::timestamptz,
    r.replaced_at);

-- Updates used to overwrite first_seen_at: give the current row the earliest one its kept
-- versions carry (column and document alike).
WITH earliest AS (
    SELECT article_id, MIN((doc->>'first_seen_at')::timestamptz) AS first_seen_at
    FROM article_revisions GROUP BY article_id
)
UPDATE articles a SET first_seen_at = e.first_seen_at,
                      doc = jsonb_set(a.doc, '{first_seen_at}', to_jsonb(e.first_seen_at))
FROM earliest e
WHERE e.article_id = a.id AND e.first_seen_at < COALESCE(a.first_seen_at, 'infinity');
