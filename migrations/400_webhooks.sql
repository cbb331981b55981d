-- Outgoing webhooks (issue 18 item 2; gateway/hooks/, docs/webhooks.md).
--
-- Three tables, one writer module each (gateway/store/webhook_*.py):
--
-- webhook_subscriptions: where to POST which event types. `secret` signs every
--   delivery (HMAC-SHA256); it is made by the gateway, shown once at creation
--   and kept here because signing needs it (as Stripe keeps its endpoint
--   secrets). consecutive_failures / failing_since: the run of failed attempts
--   since the last success, which disables the subscription when it is both
--   long enough and old enough (GATEWAY_WEBHOOKS_DISABLE_AFTER_*).
--
-- webhook_events: the outbox. One row per event, inserted by the transaction
--   that made the change (an MO's, a receipt batch's, an answer's), so a
--   rollback emits nothing and a commit never loses one. Only events some
--   enabled subscription wants are inserted (the insert's own WHERE EXISTS):
--   the table does not grow with nobody listening. `msisdn`: the supporter the
--   event is about, for erasure (store/privacy.py). `fanned_at`: when the
--   delivery task turned it into deliveries.
--
-- webhook_deliveries: one event to one subscription, leased like the SMS and
--   e-mail outboxes (FOR UPDATE SKIP LOCKED, lease owner and expiry, every write
--   fenced by (id, lease_owner, attempts)). status: pending -> sending (leased)
--   -> delivered | failed (no attempt left); a replay puts a row back to pending.
CREATE TABLE webhook_subscriptions (
    id                   bigserial   PRIMARY KEY,
    url                  text        NOT NULL CHECK (url ~ '^https?://'),
    description          text        NOT NULL DEFAULT '',
    event_types          text[]      NOT NULL CHECK (cardinality(event_types) > 0),
    secret               text        NOT NULL CHECK (length(secret) >= 32),
    enabled              boolean     NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           bigint      REFERENCES users (id) ON DELETE SET NULL,
    disabled_at          timestamptz,
    disabled_reason      text,
    consecutive_failures integer     NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    failing_since        timestamptz,
    last_success_at      timestamptz
);
CREATE INDEX webhook_subscriptions_types_idx ON webhook_subscriptions USING gin (event_types)
    WHERE enabled;

CREATE TABLE webhook_events (
    id          bigserial   PRIMARY KEY,
    event_type  text        NOT NULL,
    payload     jsonb       NOT NULL,
    msisdn      text,
    occurred_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    fanned_at   timestamptz
);
CREATE INDEX webhook_events_unfanned_idx ON webhook_events (id) WHERE fanned_at IS NULL;
CREATE INDEX webhook_events_msisdn_idx ON webhook_events (msisdn) WHERE msisdn IS NOT NULL;

CREATE TABLE webhook_deliveries (
    id               bigserial   PRIMARY KEY,
    subscription_id  bigint      NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id         bigint      NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    not_before       timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_owner      text,
    lease_until      timestamptz,
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_response    text,
    last_error       text,
    delivered_at     timestamptz,
    replays          integer     NOT NULL DEFAULT 0 CHECK (replays >= 0),
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (not_before, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_lease_idx ON webhook_deliveries (lease_until)
    WHERE status = 'sending';
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (subscription_id, id DESC);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
