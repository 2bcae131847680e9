-- Ed25519 signing keys. The private half is sealed with AUTH_SECRET (see keys.py); the public half
-- is what the JWKS serves. At most one key is current (not retired): the unique index enforces it,
-- so two replicas starting at once cannot both create a first key.
CREATE TABLE signing_keys (
    kid                text        PRIMARY KEY,
    public_key         bytea       NOT NULL,
    private_key_sealed bytea       NOT NULL,
    created_at         timestamptz NOT NULL,
    retired_at         timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
