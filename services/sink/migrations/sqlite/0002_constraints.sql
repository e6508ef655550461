-- Constraints PostgreSQL enforces by itself (CHECK, no NUL in text), enforced here by triggers,
-- so that both backends reject the same rows (RAISE(ABORT) is a constraint error: the row is
-- dead-lettered and the batch goes on).
CREATE TRIGGER articles_check_insert BEFORE INSERT ON articles
WHEN NEW.id = '' OR NEW.url = '' OR NEW.content_hash = ''
  OR instr(NEW.text, char(0)) > 0 OR instr(COALESCE(NEW.title, ''), char(0)) > 0
BEGIN
    SELECT RAISE(ABORT, 'article violates a constraint: empty id, url or content_hash, or a NUL character in its text');
END;
CREATE INDEX article_tags_ref ON article_tags (ref) WHERE ref IS NOT NULL;
