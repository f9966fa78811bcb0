-- Times are TEXT in the fixed form 2006-01-02T15:04:05.000000Z (UTC,
-- microseconds) so that text order is time order; the store converts.
-- JSON is TEXT. Identity columns are INTEGER PRIMARY KEY (rowid).

-- posts: every citizen post as ingested, once per post ID.
CREATE TABLE posts (
    post_id     TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    native_id   TEXT NOT NULL,
    author_id   TEXT NOT NULL DEFAULT '',
    author_name TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL,
    images      TEXT,             -- JSON array of URLs, NULL when none
    geo_lat     REAL,
    geo_lon     REAL,
    geo_system  TEXT,
    region      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    fetched_at  TEXT NOT NULL,
    url         TEXT NOT NULL DEFAULT '',
    raw         TEXT,             -- the platform's JSON, verbatim
    inserted_at TEXT NOT NULL
);

CREATE INDEX posts_created_at ON posts (created_at);

-- events: the audit log. dedup_key, when set, makes an effect exactly-once
-- (one card per assignment and colour, one reminder per deadline...).
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    kind          TEXT NOT NULL,
    case_id       INTEGER,
    assignment_id INTEGER,
    post_id       TEXT NOT NULL DEFAULT '',
    actor         TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT '{}',
    dedup_key     TEXT UNIQUE
);

CREATE INDEX events_case_id ON events (case_id, id);
CREATE INDEX events_at ON events (at);

-- source_cursors: each source's resume point.
CREATE TABLE source_cursors (
    source     TEXT PRIMARY KEY,
    query      TEXT NOT NULL,
    cursor     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- dead_letters: input that could not be handled, kept with the reason.
-- A keyed letter is recorded once per (stage, key): a redelivered message
-- that fails again does not pile up copies. Unkeyed letters (key NULL) are
-- all kept.
CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY,
    stage      TEXT NOT NULL,
    source     TEXT NOT NULL DEFAULT '',
    key        TEXT,
    reason     TEXT NOT NULL,
    raw        BLOB,
    created_at TEXT NOT NULL,
    UNIQUE (stage, key)
);

CREATE INDEX dead_letters_created_at ON dead_letters (created_at);
