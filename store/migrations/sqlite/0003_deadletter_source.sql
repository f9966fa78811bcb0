-- Dead letters are keyed by (stage, source, key): a replay file's key
-- "line:N" is the same in every replay source, and one source's letter must
-- not hide another's. SQLite cannot change a table constraint in place, so
-- the table is rebuilt with its rows and ids.
CREATE TABLE dead_letters_new (
    id         INTEGER PRIMARY KEY,
    stage      TEXT NOT NULL,
    source     TEXT NOT NULL DEFAULT '',
    key        TEXT,
    reason     TEXT NOT NULL,
    raw        BLOB,
    created_at TEXT NOT NULL,
    UNIQUE (stage, source, key)
);

INSERT INTO dead_letters_new (id, stage, source, key, reason, raw, created_at)
SELECT id, stage, source, key, reason, raw, created_at
FROM dead_letters;

DROP TABLE dead_letters;

ALTER TABLE dead_letters_new RENAME TO dead_letters;

CREATE INDEX dead_letters_created_at ON dead_letters (created_at);
