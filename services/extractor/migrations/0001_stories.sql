-- The story index as it was before schemas were versioned. IF NOT EXISTS, so that a file made by
-- that code is adopted as it is. ``meta`` holds the signature format ('schema' ->
-- '<format>/<num_perm>/<minhash scheme>'): stored MinHash signatures written with other parameters
-- cannot be compared, so StoryIndex empties ``items`` when it differs (data, not schema).
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS items (
    article_id    TEXT PRIMARY KEY,
    seq           INTEGER,
    story_id      TEXT,
    duplicate_of  TEXT,
    ts            REAL,
    minhash       BLOB,
    size          INTEGER,
    terms         TEXT,
    ents          TEXT
);
