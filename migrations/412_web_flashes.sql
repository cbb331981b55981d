-- One-time messages for a browser session (post/redirect/get): a form's answer that
-- must be shown once after the redirect, e.g. a new API token's secret on "My API
-- tokens". The next page of that session takes the row (DELETE ... RETURNING), so a
-- reload shows nothing and makes nothing. `sealed`: the message encrypted with a key
-- derived from the session's cookie value, which the database never holds (it keeps
-- only its hash), so these rows alone reveal no secret. A row lives minutes at most;
-- it goes with its session (logout, expiry).
CREATE TABLE web_flashes (
    session_hash bytea       NOT NULL REFERENCES web_sessions (id_hash) ON DELETE CASCADE,
    kind         text        NOT NULL CHECK (kind IN ('new_token')),
    subject_id   bigint      NOT NULL,  -- new_token: the api_tokens row
    sealed       bytea       NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (session_hash, kind)
);
