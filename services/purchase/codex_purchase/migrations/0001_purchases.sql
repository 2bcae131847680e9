-- The price projection, fed by catalog's content events (never by the client).
CREATE TABLE content_prices (
    content_id  text PRIMARY KEY,
    creator_id  text NOT NULL,
    title       text NOT NULL DEFAULT '',
    price_cents integer NOT NULL,
    currency    text NOT NULL,
    status      text NOT NULL,
    as_of       timestamptz NOT NULL  -- the event time of what is stored: older events change nothing
);

-- Where receipts go, fed by auth.user.registered.v1.
CREATE TABLE customers (
    user_id      text PRIMARY KEY,
    email        text NOT NULL,
    display_name text NOT NULL DEFAULT ''
);

CREATE TABLE purchases (
    id                    uuid PRIMARY KEY,
    customer_id           text NOT NULL,
    content_id            text NOT NULL,
    amount_cents          integer NOT NULL,
    currency              text NOT NULL,
    status                text NOT NULL
        CHECK (status IN ('pending', 'completed', 'failed', 'canceled', 'refunded', 'disputed')),
    payment_intent_id     text UNIQUE,
    client_secret         text,
    amount_refunded_cents integer NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    completed_at          timestamptz,
    refunded_at           timestamptz,
    checked_at            timestamptz  -- last time the reconciler read its PaymentIntent
);
-- One pending purchase per customer and content: two concurrent requests share one PaymentIntent.
CREATE UNIQUE INDEX purchases_one_pending ON purchases (customer_id, content_id) WHERE status = 'pending';
CREATE INDEX purchases_by_customer ON purchases (customer_id, created_at DESC, id DESC);
CREATE INDEX purchases_pending_since ON purchases (created_at) WHERE status = 'pending';

-- Every verified Stripe event, by id: a redelivery is a no-op; unapplied ones are retried.
CREATE TABLE stripe_events (
    id                text PRIMARY KEY,
    type              text NOT NULL,
    payment_intent_id text,
    received_at       timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz
);
CREATE INDEX stripe_events_unprocessed ON stripe_events (received_at) WHERE processed_at IS NULL;
