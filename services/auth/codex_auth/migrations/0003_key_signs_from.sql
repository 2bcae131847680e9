-- A rotated-in key is published before it signs (signs_from in the future), so that every replica
-- and every verifier's copy of the JWKS knows it before the first token it signs arrives. The key
-- it replaces is retired at that same instant and signs until then.
ALTER TABLE signing_keys ADD COLUMN signs_from timestamptz;
UPDATE signing_keys SET signs_from = created_at;
ALTER TABLE signing_keys ALTER COLUMN signs_from SET NOT NULL;
