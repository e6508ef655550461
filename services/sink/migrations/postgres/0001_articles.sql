-- Articles, their revisions, their tags in queryable form, and language-aware full-text search.
CREATE TABLE articles (
    id                text PRIMARY KEY CHECK (id <> ''),
    url               text NOT NULL CHECK (url <> ''),
    canonical_url     text,
    source            text NOT NULL,
    feed_url          text,
    title             text,
    authors           jsonb NOT NULL DEFAULT '[]',
    published_at      timestamptz,
    updated_at        timestamptz,
    language          text,
    text              text NOT NULL,
    summary           text,
    access            text NOT NULL DEFAULT 'open',
    story_id          text,
    duplicate_of      text,
    extractor_version text NOT NULL,
    content_hash      text NOT NULL CHECK (content_hash <> ''),
    fetched_at        timestamptz NOT NULL,
    first_seen_at     timestamptz,
    stored_at         timestamptz NOT NULL,
    revision          integer NOT NULL DEFAULT 1,
    doc               jsonb NOT NULL,
    -- the text search configuration of the article's language ('simple' when PostgreSQL has none)
    fts_config        regconfig NOT NULL DEFAULT 'simple',
    sort_at           timestamptz GENERATED ALWAYS AS (COALESCE(published_at, fetched_at)) STORED,
    fts               tsvector GENERATED ALWAYS AS (
                          setweight(to_tsvector(fts_config, COALESCE(title, '')), 'A')
                          || setweight(to_tsvector(fts_config, text), 'B')) STORED
);
CREATE INDEX articles_sort ON articles (sort_at DESC, id);
CREATE INDEX articles_story ON articles (story_id);
CREATE INDEX articles_source ON articles (lower(source));
CREATE INDEX articles_fts ON articles USING gin (fts);

CREATE TABLE article_revisions (
    article_id        text NOT NULL,
    revision          integer NOT NULL,
    content_hash      text NOT NULL,
    extractor_version text NOT NULL,
    fetched_at        timestamptz NOT NULL,
    replaced_at       timestamptz NOT NULL,
    doc               jsonb NOT NULL,
    PRIMARY KEY (article_id, revision)
);

-- No foreign key to articles: the writer deletes an article's tags with the article, and 20
-- row-level FK checks per article cost more than the rest of the tag insert.
CREATE TABLE article_tags (
    article_id text NOT NULL,
    kind       text NOT NULL,   -- place | person | organisation | topic | keyword
    value      text NOT NULL,   -- name as shown
    ref        text,            -- gazetteer id for places
    PRIMARY KEY (article_id, kind, value)
);
CREATE INDEX article_tags_lookup ON article_tags (kind, lower(value));

-- OR of tsqueries: a query is parsed once per language configuration in use, and the parts ORed,
-- so one GIN-indexed condition matches articles stemmed in any of those languages.
CREATE AGGREGATE newsflow_tsquery_any (tsquery) (SFUNC = tsquery_or, STYPE = tsquery);
