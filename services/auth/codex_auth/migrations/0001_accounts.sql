-- Accounts, their sessions, and the single-use tokens mailed to them. Times come from the service's
-- clock (passed as parameters), so that every rule about expiry is decided in one place.
CREATE TABLE users (
    id                uuid        PRIMARY KEY,
    email             text        NOT NULL UNIQUE,  -- normalised by the domain before it gets here
    display_name      text        NOT NULL,
    role              text        NOT NULL CHECK (role IN ('customer', 'creator', 'admin')),
    password_hash     text        NOT NULL,
    email_verified_at timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

-- The opaque session token is never stored: only its SHA-256, so a leaked table logs nobody in.
CREATE TABLE sessions (
    id          uuid        PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    extended_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    user_agent  text,
    ip          text
);
CREATE INDEX sessions_by_user ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE one_time_tokens (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX one_time_tokens_unused ON one_time_tokens (user_id, purpose) WHERE used_at IS NULL;
