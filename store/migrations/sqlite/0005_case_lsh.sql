-- case_lsh: the index repeat detection looks candidates up in (see
-- store/lsh.go). Each open case has a few (band, bucket) keys: MinHash bands
-- of its content words and their character bigrams, its place, the blocks of
-- its SimHash, each bucket hashed with the district. A resolved case has
-- none. The rows of the cases open when this migration runs are written by
-- the migration itself (in Go, in the same transaction).
CREATE TABLE case_lsh (
    band    INTEGER NOT NULL,
    bucket  BIGINT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    PRIMARY KEY (band, bucket, case_id)
) WITHOUT ROWID;

CREATE INDEX case_lsh_case_id ON case_lsh (case_id);
