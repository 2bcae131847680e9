-- The catalog's own tables: content, and the projections it keeps of other services' events
-- (assets from media-dispatch, creators from auth, access from purchase).

CREATE TABLE content (
    id                uuid        PRIMARY KEY,
    creator_id        text        NOT NULL,
    title             text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    price_cents       bigint      NOT NULL CHECK (price_cents >= 0),
    currency          text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    upload_id         text,
    status            text        NOT NULL CHECK (status IN
                          ('draft', 'processing', 'ready', 'published', 'failed', 'archived')),
    -- The creator asked to publish; it happens when (or as soon as) the asset is ready.
    publish_requested boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    published_at      timestamptz,
    archived_at       timestamptz,
    -- Title above description in the ranking: weight A against B (ts_rank's defaults 1.0 and 0.4).
    search            tsvector    GENERATED ALWAYS AS (
                          setweight(to_tsvector('english', title), 'A')
                          || setweight(to_tsvector('english', description), 'B')
                      ) STORED
);

-- The listing's keyset: newest published first, id breaking ties.
CREATE INDEX content_published ON content (published_at DESC, id DESC) WHERE status = 'published';
CREATE INDEX content_creator_published ON content (creator_id, published_at DESC, id DESC)
    WHERE status = 'published';
CREATE INDEX content_search ON content USING gin (search) WHERE status = 'published';
CREATE INDEX content_upload ON content (upload_id) WHERE upload_id IS NOT NULL;

-- One row per upload: the latest asset event about it (by the event's own time) wins.
CREATE TABLE assets (
    upload_id     text        PRIMARY KEY,
    asset_id      text        NOT NULL,
    owner_id      text        NOT NULL,
    state         text        NOT NULL CHECK (state IN ('ready', 'failed')),
    renditions    jsonb       NOT NULL DEFAULT '[]',
    thumbnail_key text,
    duration_s    double precision,
    error_code    text,
    error_message text,
    occurred_at   timestamptz NOT NULL
);

CREATE INDEX assets_asset_id ON assets (asset_id);

-- Who the creators are, for display; role and name each keep the time of the event that set them.
CREATE TABLE creators (
    user_id      text        PRIMARY KEY,
    display_name text,
    role         text,
    named_at     timestamptz,
    role_at      timestamptz
);

-- Who may watch what: per (customer, content) the latest purchase event by its own time decides.
CREATE TABLE access (
    customer_id text        NOT NULL,
    content_id  text        NOT NULL,
    granted     boolean     NOT NULL,
    purchase_id text        NOT NULL,
    decided_at  timestamptz NOT NULL,
    PRIMARY KEY (customer_id, content_id)
);
