-- Stripe: every webhook event we accepted, and the cards supporters saved through Checkout.

-- One row per Stripe event id. The primary key is the webhook's idempotency:
-- a redelivered event finds its row and changes nothing. The payload is kept
-- whole so finance can answer "what did Stripe tell us, and when" years later;
-- for that reason rows are never changed or removed.
CREATE TABLE stripe_webhook_events (
    event_id    text        PRIMARY KEY CHECK (event_id <> ''),
    type        text        NOT NULL,
    livemode    boolean     NOT NULL,
    created_at  timestamptz NOT NULL,  -- Stripe's own `created`
    received_at timestamptz NOT NULL,
    payload     jsonb       NOT NULL CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX stripe_webhook_events_type_idx ON stripe_webhook_events (type, received_at);

CREATE FUNCTION stripe_webhook_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stripe_webhook_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'a Stripe event is a record of what Stripe said; store a new one instead';
END
$$;
CREATE TRIGGER stripe_webhook_events_append_only
    BEFORE UPDATE OR DELETE ON stripe_webhook_events
    FOR EACH ROW EXECUTE FUNCTION stripe_webhook_events_refuse_change();
CREATE TRIGGER stripe_webhook_events_no_truncate
    BEFORE TRUNCATE ON stripe_webhook_events
    FOR EACH STATEMENT EXECUTE FUNCTION stripe_webhook_events_refuse_change();

-- A card a supporter saved (setup-mode Checkout), bound to their number.
-- Only Stripe's ids and what we say back to the supporter ("card ending 4242"):
-- never a card number. The newest card of a number is the one charged.
CREATE TABLE saved_cards (
    payment_method_id text        PRIMARY KEY,
    msisdn            text        NOT NULL,
    customer_id       text        NOT NULL,
    brand             text        NOT NULL,
    last4             text        NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    event_id          text        REFERENCES stripe_webhook_events (event_id),
    created_at        timestamptz NOT NULL
);
CREATE INDEX saved_cards_msisdn_idx ON saved_cards (msisdn, created_at DESC);
