-- Outgoing webhooks, second part (issue 18 item 2; docs/webhooks.md).
--
-- last_latency_ms: how long the last attempt took, from the connection to the
--   end of the answer's first bytes, for the delivery log on the admin page.
--   NULL before any attempt and when no connection was made.
--
-- The notify triggers: a subscription made, deleted, turned on or off or given
--   other event types (by any writer; not the failure counts) tells every gateway on channel `gateway_webhook_subscriptions`,
--   delivered when the change commits. A gateway keeps the set of event types
--   some enabled subscription wants (gateway/hooks/wanted.py) and skips the
--   emit statement for a type nobody wants; the notice makes it ask the
--   database again (store/webhook_events.py says the exact guarantee).
ALTER TABLE webhook_deliveries ADD COLUMN last_latency_ms integer
    CHECK (last_latency_ms >= 0);

CREATE FUNCTION webhook_subscriptions_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gateway_webhook_subscriptions', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER webhook_subscriptions_notify_rows
AFTER INSERT OR DELETE ON webhook_subscriptions
FOR EACH ROW EXECUTE FUNCTION webhook_subscriptions_changed();

CREATE TRIGGER webhook_subscriptions_notify_changes
AFTER UPDATE ON webhook_subscriptions
FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled
                   OR OLD.event_types IS DISTINCT FROM NEW.event_types)
EXECUTE FUNCTION webhook_subscriptions_changed();

CREATE TRIGGER webhook_subscriptions_notify_truncate
AFTER TRUNCATE ON webhook_subscriptions
FOR EACH STATEMENT EXECUTE FUNCTION webhook_subscriptions_changed();

-- The admin page (gateway/web/pages/webhooks.py):
-- previous_secret / previous_secret_until: after a rotation the old secret
--   still signs (a second `v1=` in the header) until then, so the receiver
--   can switch without losing a delivery (Stripe's rolling secret).
-- secret_reveal_to / secret_reveal_until: the admin who made or rotated it may
--   see the secret once, on the page the form redirects to, within a few
--   minutes; that page clears both (post/redirect/get: a reload neither shows
--   it again nor makes a new one).
ALTER TABLE webhook_subscriptions
    ADD COLUMN previous_secret       text CHECK (length(previous_secret) >= 32),
    ADD COLUMN previous_secret_until timestamptz,
    ADD COLUMN secret_reveal_to      bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN secret_reveal_until   timestamptz;
