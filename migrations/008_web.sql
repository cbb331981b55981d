-- Admin web: staff users and their roles, server-side sessions, API tokens,
-- login attempts (for rate limiting) and the append-only audit log.
-- Secrets are never stored: a password as its argon2id hash, a session id and
-- an API token as the SHA-256 of the random value the client holds.

CREATE TABLE users (
    id            bigserial   PRIMARY KEY,
    email         text        NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    role          text        NOT NULL CHECK (role IN ('admin', 'organizer', 'finance', 'expert')),
    -- The expert's themes (keywords.yaml `theme:`); only experts have any.
    themes        text[]      NOT NULL DEFAULT '{}',
    password_hash text,                               -- argon2id; NULL: token-only account
    disabled_at   timestamptz,                        -- set: no login, no token, no session
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (role = 'expert' OR cardinality(themes) = 0)
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- One row per logged-in browser. The cookie holds a random id; only its hash is
-- here, so a copy of this table logs nobody in. The CSRF token belongs to the session.
CREATE TABLE web_sessions (
    id_hash     bytea       PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id),
    csrf_token  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry_idx ON web_sessions (expires_at);

-- Scripts authenticate with `Authorization: Bearer <token>`. The token is shown
-- once; `prefix` (its public part, unique) finds the row, `secret_hash` proves it.
CREATE TABLE api_tokens (
    id           bigserial   PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id),
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text        NOT NULL UNIQUE,
    secret_hash  bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- Every password login, good or bad: the rate limiter counts recent failures
-- per e-mail and per client address. Old rows can be deleted at will.
CREATE TABLE login_attempts (
    id           bigserial   PRIMARY KEY,
    email        text        NOT NULL,
    client       text        NOT NULL,
    succeeded    boolean     NOT NULL,
    attempted_at timestamptz NOT NULL
);
CREATE INDEX login_attempts_email_idx ON login_attempts (email, attempted_at);
CREATE INDEX login_attempts_client_idx ON login_attempts (client, attempted_at);

-- Who did what and when: broadcasts, keyword reloads, user and token changes,
-- exports, refunds, logins. `actor` is kept as text (the e-mail at the time) so
-- an entry still reads right after the user is renamed or disabled.
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id    bigint      REFERENCES users (id),
    actor       text        NOT NULL,           -- e-mail, or 'cli' / 'system'
    action      text        NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    target      text,                           -- 'broadcast:12', 'user:3', 'donation:40'
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    client      text                            -- remote address of the request
);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);

-- Append-only, whoever connects: a record of who did what is worth nothing if
-- it can be edited. Changing that takes a new migration that says why.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'record a new audit entry instead of changing an old one';
END
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
