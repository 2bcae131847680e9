-- Media assets (one per completed upload) and the transcode jobs submitted for them, one row per
-- submission. Times are the database's (now()), so that every replica reads one clock.
CREATE TABLE assets (
    id                 text        PRIMARY KEY,
    upload_id          text        NOT NULL UNIQUE,
    owner_id           text        NOT NULL,
    bucket             text        NOT NULL,
    source_key         text        NOT NULL,
    filename           text        NOT NULL,
    size_bytes         bigint      NOT NULL,
    state              text        NOT NULL
        CHECK (state IN ('queued', 'submitted', 'running', 'ready', 'failed', 'canceled')),
    attempts           integer     NOT NULL DEFAULT 0,   -- submissions so far
    attempt_floor      integer     NOT NULL DEFAULT 0,   -- attempts when an admin last retried it
    resubmissions      integer     NOT NULL DEFAULT 0,
    submit_failures    integer     NOT NULL DEFAULT 0,   -- /run refused (429, 5xx) in a row
    job_id             text,                             -- the current submission (jobs.id)
    runpod_job_id      text,
    not_before         timestamptz NOT NULL DEFAULT now(),  -- queued: earliest next submission
    check_at           timestamptz,                         -- in flight: when /status is read next
    progress_percent   integer,
    progress_stage     text,
    last_reason        text,
    error_code         text,
    error_message      text,
    encoder            text,
    decoder            text,
    gpu_name           text,
    gpu_seconds        double precision NOT NULL DEFAULT 0,
    duration_s         double precision,
    renditions         jsonb,
    thumbnail_key      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    first_submitted_at timestamptz,
    last_submitted_at  timestamptz,
    started_at         timestamptz,
    finished_at        timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assets_waiting ON assets (created_at, id) WHERE state = 'queued';
CREATE INDEX assets_in_flight ON assets (check_at) WHERE state IN ('submitted', 'running');
CREATE INDEX assets_by_owner ON assets (owner_id, created_at DESC, id DESC);

-- The webhook URL's secret is never stored: only its SHA-256.
CREATE TABLE jobs (
    id            text        PRIMARY KEY,
    asset_id      text        NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    attempt       integer     NOT NULL,
    token_hash    bytea       NOT NULL,
    runpod_job_id text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    outcome       text
);
CREATE INDEX jobs_by_asset ON jobs (asset_id);
