-- Session documents. The etag is drawn from a sequence, so it never repeats,
-- not even for a document deleted and created again with the same bytes.
CREATE SEQUENCE hyperstate_session_etags;
CREATE TABLE hyperstate_sessions (
    namespace    text        NOT NULL,
    key          text        NOT NULL,
    body         bytea       NOT NULL,
    etag         bigint      NOT NULL,
    last_seen_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, key)
);
-- The sweeper lists sessions by when they were last written.
CREATE INDEX hyperstate_sessions_last_seen_at ON hyperstate_sessions (namespace, last_seen_at);

-- Unreadable documents kept for an operator, outside the sessions' keyspace.
CREATE TABLE hyperstate_session_quarantine (
    id        bigserial   PRIMARY KEY,
    namespace text        NOT NULL,
    key       text        NOT NULL,
    body      bytea       NOT NULL,
    etag      bigint      NOT NULL,
    kept_at   timestamptz NOT NULL DEFAULT now()
);
