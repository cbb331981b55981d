-- Stripe customers of erased numbers, to be deleted at Stripe (a Customer
-- holds the number in its phone and metadata). Queued by the erasure's own
-- transaction, so none is forgotten; deleted by the running gateway, retried
-- until Stripe confirms. Holds only Stripe's id, never the number.
CREATE TABLE stripe_erasures (
    customer_id   text        PRIMARY KEY,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    next_try_at   timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    done_at       timestamptz
);
CREATE INDEX stripe_erasures_due_idx ON stripe_erasures (next_try_at) WHERE done_at IS NULL;
