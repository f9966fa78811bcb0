-- Times are TEXT (2006-01-02T15:04:05.000000Z, UTC), JSON is TEXT, as in 0001.
-- Dispatch: cases, the posts in them, assignments with their deadlines, the
-- notices (reminders and cards) issued on those deadlines, the reply outbox,
-- the triage queue, per-day counters and department tokens.
-- Every retried effect is made exactly-once by a key here:
--   case_posts.post_id     one case entry per post
--   triage.post_id         one triage entry per post
--   outbox (post_id, kind, seq)  one acknowledgement per post
--   notices (assignment_id, kind, deadline)  one card/reminder per deadline

-- cases: one problem, reported by one or more posts. simhash, tokens, place
-- and district are what repeat detection compares (tokens: JSON array of the
-- content words of the first post).
CREATE TABLE cases (
    id               INTEGER PRIMARY KEY,
    case_no          TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL,
    district         TEXT NOT NULL DEFAULT '',
    districts        TEXT NOT NULL DEFAULT '[]',
    category         TEXT NOT NULL DEFAULT '',
    priority         TEXT NOT NULL DEFAULT 'normal',
    lead             TEXT NOT NULL DEFAULT '',
    summary          TEXT NOT NULL DEFAULT '',
    first_post_id    TEXT NOT NULL,
    simhash          BIGINT NOT NULL DEFAULT 0,
    tokens           TEXT NOT NULL DEFAULT '[]',
    place            TEXT NOT NULL DEFAULT '',
    rule_set_version TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    resolved_at      TEXT
);

CREATE INDEX cases_open_district ON cases (district, status, created_at);
CREATE INDEX cases_status_id ON cases (status, id);

-- case_posts: which case each post is in. One row per post, ever: an undone
-- merge moves the row to the post's own new case (unmerged_from, unmerged_at).
CREATE TABLE case_posts (
    post_id       TEXT PRIMARY KEY,
    case_id       BIGINT NOT NULL REFERENCES cases (id),
    role          TEXT NOT NULL,            -- origin | repeat
    score         REAL NOT NULL DEFAULT 0,
    merged_at     TEXT NOT NULL,
    unmerged_from BIGINT,
    unmerged_at   TEXT
);

CREATE INDEX case_posts_case_id ON case_posts (case_id);

-- assignments: one department's share of a case. Deadlines are absolute
-- times computed when the assignment is made, under policy_version.
CREATE TABLE assignments (
    id               INTEGER PRIMARY KEY,
    case_id          BIGINT NOT NULL REFERENCES cases (id),
    department       TEXT NOT NULL,
    role             TEXT NOT NULL,         -- lead | assist
    state            TEXT NOT NULL,         -- pending | claimed | replied | resolved | transferred
    policy_version   TEXT NOT NULL,
    claim_by         TEXT NOT NULL,
    reply_by         TEXT NOT NULL,
    close_by         TEXT NOT NULL,
    claimed_at       TEXT,
    replied_at       TEXT,
    resolved_at      TEXT,
    transferred_to   TEXT NOT NULL DEFAULT '',
    transferred_from BIGINT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE INDEX assignments_case_id ON assignments (case_id);
CREATE INDEX assignments_department_state ON assignments (department, state);
CREATE INDEX assignments_state_claim_by ON assignments (state, claim_by);
CREATE INDEX assignments_created_at ON assignments (created_at);

-- notices: reminders and cards issued by the deadline clock. The key makes
-- each one exactly-once across restarts; a deadline moved by a reopen gets
-- its own notices.
CREATE TABLE notices (
    assignment_id BIGINT NOT NULL REFERENCES assignments (id),
    kind          TEXT NOT NULL,            -- remind_claim | remind_reply | remind_close | yellow | orange | red
    deadline      TEXT NOT NULL,
    department    TEXT NOT NULL,
    issued_at     TEXT NOT NULL,
    PRIMARY KEY (assignment_id, kind, deadline)
);

CREATE INDEX notices_issued_at ON notices (issued_at);

-- outbox: replies to citizens, sent by the sender after the transaction that
-- queued them commits. seq is 0 for the acknowledgement, 1, 2, ... for
-- progress replies. A row in 'sending' was recorded before the platform call:
-- after a crash it is checked with the platform, never blindly resent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    post_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,          -- ack | progress
    seq             INTEGER NOT NULL DEFAULT 0,
    channel         TEXT NOT NULL,
    native_id       TEXT NOT NULL DEFAULT '',
    author_id       TEXT NOT NULL DEFAULT '',
    case_no         TEXT NOT NULL DEFAULT '',
    text            TEXT NOT NULL,
    fields          TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL,          -- queued | sending | sent | skipped | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    remote_id       TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (post_id, kind, seq)
);

CREATE INDEX outbox_due ON outbox (channel, state, next_attempt_at);

-- triage: decisions that must not be acted on automatically wait here until
-- staff route them by hand (who and why are kept).
CREATE TABLE triage (
    post_id    TEXT PRIMARY KEY,
    decision   TEXT NOT NULL,               -- the classifier's Decision, JSON
    reason     TEXT NOT NULL DEFAULT '',
    district   TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL,               -- waiting | routed
    case_id    BIGINT,
    routed_by  TEXT NOT NULL DEFAULT '',
    routed_why TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    routed_at  TEXT
);

CREATE INDEX triage_state ON triage (state, created_at);

-- counters: named sequences, e.g. "case:20261126" for that day's case numbers.
-- Incremented in the transaction that uses the number, so a rolled-back case
-- leaves no gap.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- department_tokens: API tokens, stored as hex SHA-256, never in clear.
CREATE TABLE department_tokens (
    department TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,               -- department | supervisor
    updated_at TEXT NOT NULL
);
