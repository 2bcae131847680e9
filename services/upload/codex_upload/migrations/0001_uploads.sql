-- Uploads: one row per file a creator sends straight to the object store. Times come from the
-- service's clock (parameters), so every expiry rule is decided in one place.
CREATE TABLE uploads (
    id             uuid        PRIMARY KEY,
    owner_id       text        NOT NULL,
    filename       text        NOT NULL,
    content_type   text        NOT NULL,
    size_bytes     bigint      NOT NULL CHECK (size_bytes > 0),
    method         text        NOT NULL CHECK (method IN ('put', 'multipart')),
    object_key     text        NOT NULL UNIQUE,
    multipart_id   text,       -- S3's UploadId of a multipart upload
    part_size      bigint,
    part_count     integer,
    state          text        NOT NULL CHECK (state IN ('pending', 'uploading', 'completed', 'aborted', 'expired', 'failed')),
    etag           text,
    failure_reason text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    completed_at   timestamptz,
    -- When the sweeper should look at the row next (NULL: never again): an open upload's expiry, a
    -- single PUT's next look for its object, a closed upload's late-PUT cleanup.
    sweep_at       timestamptz,
    CHECK ((method = 'multipart') = (multipart_id IS NOT NULL))
);
-- GET /uploads: a creator's uploads, newest first, by keyset.
CREATE INDEX uploads_by_owner ON uploads (owner_id, created_at DESC, id DESC);
-- The sweeper's queue: only rows it still has to look at.
CREATE INDEX uploads_to_sweep ON uploads (sweep_at) WHERE sweep_at IS NOT NULL;
