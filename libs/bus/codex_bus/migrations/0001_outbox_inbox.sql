-- The transactional outbox and the inbox of one service, in that service's schema.
-- Applied with search_path set to the schema, so every name here is the service's own.

CREATE TABLE outbox (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    text        NOT NULL,
    event_type    text        NOT NULL,
    body          bytea       NOT NULL,
    work_queue    text,                                    -- NULL: the events exchange
    delay_seconds integer     NOT NULL DEFAULT 0 CHECK (delay_seconds BETWEEN 0 AND 43200),
    -- clock_timestamp, not now(): the latency metric measures from the insert, not from BEGIN.
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    available_at  timestamptz NOT NULL DEFAULT clock_timestamp(),  -- pushed back after a failure
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    sent_at       timestamptz
);

-- The relay's claim query scans unsent rows in insert order; sent rows wait for clean-up.
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Wake the relays at commit (NOTIFY is transactional). One fixed channel for every schema, with
-- the schema as payload: a channel named after the schema could pass the 63-byte identifier limit.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('codex_outbox', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE inbox (
    consumer    text        NOT NULL,
    message_id  text        NOT NULL,
    handled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

CREATE INDEX inbox_handled_at ON inbox (handled_at);
