-- web_sessions: signed-in users of the web console. id_hash is the hex
-- SHA-256 of the cookie's random token (the token itself is never stored);
-- csrf is the session's secret for the hidden field of every form.
CREATE TABLE web_sessions (
    id_hash    TEXT PRIMARY KEY,
    actor      TEXT NOT NULL,               -- department id, or the office's id
    role       TEXT NOT NULL,               -- department | office
    csrf       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
