-- Donations: one row per request, keyed by the requesting MO's id, and the
-- append-only ledger of everything that happened to it (COMPLIANCE.md 15-24).
-- Money is integer cents with an ISO 4217 currency; times are UTC.

CREATE TABLE donations (
    id            bigint      PRIMARY KEY REFERENCES inbound (id),  -- the GIVE MO: donation_ref
    msisdn        text        NOT NULL,
    shortcode     text        NOT NULL,
    program       text        NOT NULL,
    committee     text        NOT NULL,
    method        text        NOT NULL CHECK (method IN ('carrier', 'card')),
    amount_cents  bigint      NOT NULL CHECK (amount_cents > 0),
    currency      text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    requested_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,           -- no YES by then: never charged
    -- Projections of the ledger, written only by its trigger below:
    confirmed_at  timestamptz,                     -- the legal date of receipt (the YES)
    status        text        NOT NULL DEFAULT 'requested'
                  CHECK (status IN ('requested', 'awaiting_confirmation', 'confirmed',
                                    'awaiting_details', 'billing_submitted', 'charge_requested',
                                    'requires_action', 'expired', 'cancelled', 'refused',
                                    'failed', 'billed', 'charged', 'partially_refunded',
                                    'refunded', 'disputed')),
    last_event_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX donations_donor_idx ON donations (msisdn, committee, confirmed_at);
-- The billing service's queue and the expiry sweep read these, never the whole table.
CREATE INDEX donations_to_charge_idx ON donations (id) WHERE status = 'confirmed';
CREATE INDEX donations_waiting_idx ON donations (expires_at)
    WHERE status IN ('requested', 'awaiting_confirmation', 'awaiting_details');

CREATE TABLE donation_events (
    id           bigserial   PRIMARY KEY,
    donation_id  bigint      NOT NULL REFERENCES donations (id),
    kind         text        NOT NULL
                 CHECK (kind IN ('requested', 'confirmation_sent', 'confirmed', 'expired',
                                 'cancelled', 'refused', 'details_requested',
                                 'details_received', 'billing_submitted', 'billed', 'failed',
                                 'charge_requested', 'requires_action', 'charged', 'refunded',
                                 'disputed')),
    amount_cents bigint      CHECK (amount_cents > 0),
    currency     text        CHECK (currency ~ '^[A-Z]{3}$'),
    data         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    inbound_id   bigint      REFERENCES inbound (id),   -- the MO behind it (GIVE, YES, STOP)
    outbound_id  bigint      REFERENCES outbound (id),  -- the MT it sent (request, billed MT)
    external_ref text,                                   -- Stripe id, SMSC message id...
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((amount_cents IS NULL) = (currency IS NULL))
);
CREATE INDEX donation_events_donation_idx ON donation_events (donation_id, id);

-- The money invariants, enforced here whoever writes (a retried request, a
-- redelivered webhook, two gateway processes): one of each of these per
-- donation. Writers use ON CONFLICT DO NOTHING, so a repeat is a no-op.
CREATE UNIQUE INDEX donation_events_once_idx ON donation_events (donation_id, kind)
    WHERE kind IN ('requested', 'confirmation_sent', 'confirmed', 'requires_action', 'disputed');
CREATE UNIQUE INDEX donation_events_one_charge_idx ON donation_events (donation_id)
    WHERE kind IN ('billing_submitted', 'charge_requested');
CREATE UNIQUE INDEX donation_events_one_outcome_idx ON donation_events (donation_id)
    WHERE kind IN ('expired', 'cancelled', 'refused', 'failed', 'billed', 'charged');
CREATE UNIQUE INDEX donation_events_external_idx ON donation_events (donation_id, kind, external_ref)
    WHERE external_ref IS NOT NULL;

-- Before a row goes in: serialize per donation (its row lock), drop anything but
-- a refund or dispute once the donation has its outcome (a YES racing the
-- expiry sweep, a STOP after a failure), and refuse what can only be a bug.
CREATE FUNCTION donation_events_admit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM donations WHERE id = NEW.donation_id FOR UPDATE;
    IF NEW.kind NOT IN ('refunded', 'disputed') AND EXISTS (
        SELECT 1 FROM donation_events
        WHERE donation_id = NEW.donation_id
          AND kind IN ('expired', 'cancelled', 'refused', 'failed', 'billed', 'charged')
    ) THEN
        RETURN NULL;
    END IF;
    IF NEW.kind IN ('billing_submitted', 'charge_requested') AND NOT EXISTS (
        SELECT 1 FROM donation_events WHERE donation_id = NEW.donation_id AND kind = 'confirmed'
    ) THEN
        RAISE EXCEPTION 'donation %: % without a confirmed event', NEW.donation_id, NEW.kind
            USING ERRCODE = 'check_violation',
                  HINT = 'nothing is charged without a YES; record confirmed first';
    END IF;
    IF NEW.kind IN ('refunded', 'disputed') AND NOT EXISTS (
        SELECT 1 FROM donation_events
        WHERE donation_id = NEW.donation_id AND kind IN ('billed', 'charged')
    ) THEN
        RAISE EXCEPTION 'donation %: % before any money was taken', NEW.donation_id, NEW.kind
            USING ERRCODE = 'check_violation',
                  HINT = 'a refund or dispute follows a billed or charged event';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER donation_events_admit
    BEFORE INSERT ON donation_events
    FOR EACH ROW EXECUTE FUNCTION donation_events_admit();

-- After a row goes in: the donation's status (the same table as billing/ledger.py),
-- its legal date of receipt and the time of its latest event.
CREATE FUNCTION donation_events_project() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE donations d SET
        status = CASE NEW.kind
            WHEN 'confirmation_sent' THEN 'awaiting_confirmation'
            WHEN 'details_requested' THEN 'awaiting_details'
            WHEN 'details_received' THEN 'confirmed'
            WHEN 'refunded' THEN CASE
                WHEN (SELECT sum(e.amount_cents) FROM donation_events e
                      WHERE e.donation_id = d.id AND e.kind = 'refunded') >= d.amount_cents
                THEN 'refunded' ELSE 'partially_refunded' END
            ELSE NEW.kind END,
        confirmed_at = CASE WHEN NEW.kind = 'confirmed' THEN NEW.occurred_at ELSE d.confirmed_at END,
        last_event_at = NEW.occurred_at
    WHERE d.id = NEW.donation_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER donation_events_project
    AFTER INSERT ON donation_events
    FOR EACH ROW EXECUTE FUNCTION donation_events_project();

-- Append-only: an event is what happened; corrections are new events.
CREATE FUNCTION donation_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'record a new donation event (refunded, cancelled...) instead';
END
$$;
CREATE TRIGGER donation_events_append_only
    BEFORE UPDATE OR DELETE ON donation_events
    FOR EACH ROW EXECUTE FUNCTION donation_events_refuse_change();
CREATE TRIGGER donation_events_no_truncate
    BEFORE TRUNCATE ON donation_events
    FOR EACH STATEMENT EXECUTE FUNCTION donation_events_refuse_change();

-- A donation row is never deleted, and only the ledger trigger updates it (its
-- projections); the legal date of receipt, once set, never moves.
CREATE FUNCTION donations_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    refused boolean := TG_OP <> 'UPDATE' OR pg_trigger_depth() < 2;
BEGIN
    IF NOT refused THEN
        refused := (NEW.id, NEW.msisdn, NEW.shortcode, NEW.program, NEW.committee, NEW.method,
                    NEW.amount_cents, NEW.currency, NEW.requested_at, NEW.expires_at,
                    NEW.created_at)
                   IS DISTINCT FROM
                   (OLD.id, OLD.msisdn, OLD.shortcode, OLD.program, OLD.committee, OLD.method,
                    OLD.amount_cents, OLD.currency, OLD.requested_at, OLD.expires_at,
                    OLD.created_at)
                   OR (OLD.confirmed_at IS NOT NULL
                       AND NEW.confirmed_at IS DISTINCT FROM OLD.confirmed_at);
    END IF;
    IF refused THEN
        RAISE EXCEPTION 'donations: % refused; a donation changes only through its events', TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'insert into donation_events; status and confirmed_at follow';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER donations_guard
    BEFORE UPDATE OR DELETE ON donations
    FOR EACH ROW EXECUTE FUNCTION donations_guard();
CREATE TRIGGER donations_no_truncate
    BEFORE TRUNCATE ON donations
    FOR EACH STATEMENT EXECUTE FUNCTION donations_guard();

-- What the donor told us for the FEC report (name and address over $50, employer
-- and occupation over $200). Insert-only: the newest row per number and committee
-- is current; older rows show what was known when an earlier gift was taken.
CREATE TABLE donor_details (
    id           bigserial   PRIMARY KEY,
    msisdn       text        NOT NULL,
    committee    text        NOT NULL,
    name         text,
    street       text,
    city         text,
    region       text,
    postal_code  text,
    country      text,
    employer     text,
    occupation   text,
    source       text        NOT NULL CHECK (source IN ('sms', 'web', 'card', 'staff')),
    donation_id  bigint      REFERENCES donations (id),  -- the gift that asked for them
    received_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX donor_details_donor_idx ON donor_details (msisdn, committee, id DESC);

-- Reports: each donation with its outcome and refunds, derived from the ledger
-- alone (not from the projected status), so finance can check one against the other.
CREATE VIEW donation_report AS
SELECT d.id, d.msisdn, d.shortcode, d.program, d.committee, d.method, d.amount_cents,
       d.currency, d.requested_at, d.expires_at, d.status,
       c.occurred_at                                    AS confirmed_at,
       o.kind                                           AS outcome,
       o.occurred_at                                    AS outcome_at,
       o.external_ref                                   AS outcome_ref,
       coalesce(r.refunded_cents, 0)                    AS refunded_cents,
       CASE WHEN o.kind IN ('billed', 'charged')
            THEN d.amount_cents - coalesce(r.refunded_cents, 0) ELSE 0 END AS net_cents,
       EXISTS (SELECT 1 FROM donation_events x
               WHERE x.donation_id = d.id AND x.kind = 'disputed') AS disputed
FROM donations d
LEFT JOIN donation_events c ON c.donation_id = d.id AND c.kind = 'confirmed'
LEFT JOIN donation_events o ON o.donation_id = d.id
     AND o.kind IN ('expired', 'cancelled', 'refused', 'failed', 'billed', 'charged')
LEFT JOIN LATERAL (
    SELECT sum(e.amount_cents) AS refunded_cents FROM donation_events e
    WHERE e.donation_id = d.id AND e.kind = 'refunded'
) r ON true;
