-- Articles, their revisions, their tags in queryable form, and full-text search.
CREATE TABLE articles (
    id                TEXT PRIMARY KEY,
    url               TEXT NOT NULL,
    canonical_url     TEXT,
    source            TEXT NOT NULL,
    feed_url          TEXT,
    title             TEXT,
    authors           TEXT NOT NULL DEFAULT '[]',
    published_at      TEXT,
    updated_at        TEXT,
    language          TEXT,
    text              TEXT NOT NULL,
    summary           TEXT,
    access            TEXT NOT NULL DEFAULT 'open',
    story_id          TEXT,
    duplicate_of      TEXT,
    extractor_version TEXT NOT NULL,
    content_hash      TEXT NOT NULL,
    fetched_at        TEXT NOT NULL,
    first_seen_at     TEXT,
    stored_at         TEXT NOT NULL,
    revision          INTEGER NOT NULL DEFAULT 1,
    doc               TEXT NOT NULL
);
CREATE INDEX articles_published ON articles (published_at);
CREATE INDEX articles_story ON articles (story_id);
CREATE INDEX articles_source ON articles (source);

CREATE TABLE article_revisions (
    article_id        TEXT NOT NULL,
    revision          INTEGER NOT NULL,
    content_hash      TEXT NOT NULL,
    extractor_version TEXT NOT NULL,
    fetched_at        TEXT NOT NULL,
    replaced_at       TEXT NOT NULL,
    doc               TEXT NOT NULL,
    PRIMARY KEY (article_id, revision)
);

CREATE TABLE article_tags (
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,   -- place | person | organisation | topic | keyword
    value      TEXT NOT NULL,   -- name as shown
    ref        TEXT,            -- gazetteer id for places
    PRIMARY KEY (article_id, kind, value)
);
CREATE INDEX article_tags_lookup ON article_tags (kind, value COLLATE NOCASE);

CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, text, content='articles', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
END;
