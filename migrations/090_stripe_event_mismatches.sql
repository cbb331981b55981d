-- A signed Stripe event that disagrees with the donation it names: another
-- amount, another currency, or a card event about a carrier-billed gift. The
-- event itself is kept in stripe_webhook_events; it is NOT applied to the
-- ledger, and this row puts it on finance's reconciliation exceptions until
-- someone looks (gateway/billing/event_checks.py). Append-only, like the ledger.
CREATE TABLE stripe_event_mismatches (
    id              bigserial   PRIMARY KEY,
    event_id        text        NOT NULL UNIQUE REFERENCES stripe_webhook_events (event_id),
    event_type      text        NOT NULL,
    donation_id     bigint      NOT NULL REFERENCES donations (id),
    problem         text        NOT NULL CHECK (problem IN ('amount', 'currency', 'method')),
    expected        text        NOT NULL,   -- what the donation row says
    received        text        NOT NULL,   -- what the event says
    amount_cents    bigint,                 -- the event's amount, in its currency's cents
    currency        text,
    event_at        timestamptz NOT NULL    -- Stripe's `created` of the event
);
CREATE INDEX stripe_event_mismatches_donation_idx ON stripe_event_mismatches (donation_id);

CREATE FUNCTION stripe_event_mismatches_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stripe_event_mismatches is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER stripe_event_mismatches_append_only
    BEFORE UPDATE OR DELETE ON stripe_event_mismatches
    FOR EACH ROW EXECUTE FUNCTION stripe_event_mismatches_refuse_change();
