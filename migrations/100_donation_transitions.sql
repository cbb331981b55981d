-- The donation state machine of gateway/billing/ledger.py, enforced by the database.
--
-- Migration 003's triggers kept the money invariants (one confirmation, one
-- charge attempt, one outcome per donation; nothing charged without a YES)
-- and projected the status, but took any other order: a `billed` straight
-- after `requested`, a `failed` while the donor was still on the Checkout
-- page. From here the transitions are a table, ledger.py's TRANSITIONS row
-- for row (tests/test_donations_transitions.py fails on any difference and
-- tries every status against every event kind), and an event the table does
-- not allow from the donation's status is dropped, as a late event already
-- was: writers use ON CONFLICT DO NOTHING and read what was recorded.

CREATE TABLE donation_transitions (
    status      text NOT NULL,
    kind        text NOT NULL,
    next_status text NOT NULL,
    method      text CHECK (method IN ('carrier', 'card')),  -- NULL: either method
    PRIMARY KEY (status, kind)
);

INSERT INTO donation_transitions (status, kind, next_status, method) VALUES
    ('awaiting_confirmation', 'cancelled', 'cancelled', NULL),
    ('awaiting_confirmation', 'confirmed', 'confirmed', NULL),
    ('awaiting_confirmation', 'expired', 'expired', NULL),
    ('awaiting_confirmation', 'refused', 'refused', NULL),
    ('awaiting_details', 'cancelled', 'cancelled', NULL),
    ('awaiting_details', 'details_received', 'confirmed', NULL),
    ('awaiting_details', 'expired', 'expired', NULL),
    ('awaiting_details', 'refused', 'refused', NULL),
    ('billing_submitted', 'billed', 'billed', 'carrier'),
    ('billing_submitted', 'failed', 'failed', NULL),
    ('charge_requested', 'charged', 'charged', 'card'),
    ('charge_requested', 'failed', 'failed', NULL),
    ('charge_requested', 'requires_action', 'requires_action', 'card'),
    ('confirmed', 'billing_submitted', 'billing_submitted', 'carrier'),
    ('confirmed', 'cancelled', 'cancelled', NULL),
    ('confirmed', 'charge_requested', 'charge_requested', 'card'),
    ('confirmed', 'details_requested', 'awaiting_details', NULL),
    ('confirmed', 'refused', 'refused', NULL),
    ('requested', 'cancelled', 'cancelled', NULL),
    ('requested', 'confirmation_sent', 'awaiting_confirmation', NULL),
    ('requested', 'confirmed', 'confirmed', NULL),
    ('requested', 'details_requested', 'awaiting_details', NULL),
    ('requested', 'expired', 'expired', NULL),
    ('requested', 'refused', 'refused', NULL),
    ('requires_action', 'charged', 'charged', 'card'),
    ('requires_action', 'failed', 'failed', NULL);

-- The status an event leaves a donation in. An event kind leads to one status
-- whatever it follows (the query fails loudly if the table ever says
-- otherwise), except `details_received`: a gift confirmed by YES is confirmed
-- again, a Checkout gift held before its page waits for the page (`requested`).
-- Refunds and disputes adjust a paid donation and are projected apart.
CREATE FUNCTION donation_status_after(event_kind text, has_confirmation boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    after text;
BEGIN
    IF event_kind = 'requested' OR (event_kind = 'details_received' AND NOT has_confirmation)
    THEN
        RETURN 'requested';
    END IF;
    SELECT DISTINCT t.next_status INTO STRICT after
    FROM donation_transitions t WHERE t.kind = event_kind;
    RETURN after;
END
$$;

-- Before a row goes in: migration 003's rules first (serialize per donation;
-- drop anything but a refund or dispute after the outcome; refuse a charge
-- without a YES or a refund before any money, which can only be bugs), then
-- the transition table. The donation's status is read from its latest event,
-- not from donations.status: rows inserted earlier by the same statement are
-- visible here, but their projection (an AFTER trigger) runs at its end. After
-- an outcome nothing but refunds and disputes is ever recorded, so the latest
-- other event is the outcome when there is one.
CREATE OR REPLACE FUNCTION donation_events_admit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    gift_method text;
    gift_cents  bigint;
    latest      text;
BEGIN
    SELECT method, amount_cents INTO gift_method, gift_cents
    FROM donations WHERE id = NEW.donation_id FOR UPDATE;
    SELECT e.kind INTO latest FROM donation_events e
    WHERE e.donation_id = NEW.donation_id AND e.kind NOT IN ('refunded', 'disputed')
    ORDER BY e.id DESC LIMIT 1;
    IF NEW.kind NOT IN ('refunded', 'disputed')
       AND latest IN ('expired', 'cancelled', 'refused', 'failed', 'billed', 'charged') THEN
        RETURN NULL;
    END IF;
    IF NEW.kind IN ('billing_submitted', 'charge_requested') AND NOT EXISTS (
        SELECT 1 FROM donation_events WHERE donation_id = NEW.donation_id AND kind = 'confirmed'
    ) THEN
        RAISE EXCEPTION 'donation %: % without a confirmed event', NEW.donation_id, NEW.kind
            USING ERRCODE = 'check_violation',
                  HINT = 'nothing is charged without a YES; record confirmed first';
    END IF;
    IF NEW.kind IN ('refunded', 'disputed') AND latest IS DISTINCT FROM 'billed'
       AND latest IS DISTINCT FROM 'charged' THEN
        RAISE EXCEPTION 'donation %: % before any money was taken', NEW.donation_id, NEW.kind
            USING ERRCODE = 'check_violation',
                  HINT = 'a refund or dispute follows a billed or charged event';
    END IF;
    IF NEW.kind = 'refunded' THEN  -- refunds never add up to more than the gift
        IF NEW.amount_cents IS NULL OR NEW.amount_cents + coalesce((
            SELECT sum(e.amount_cents) FROM donation_events e
            WHERE e.donation_id = NEW.donation_id AND e.kind = 'refunded'), 0) > gift_cents
        THEN
            RETURN NULL;
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.kind IN ('requested', 'disputed') THEN
        RETURN NEW;  -- once each: donation_events_once_idx drops a repeat
    END IF;
    PERFORM 1 FROM donation_transitions t
    WHERE t.kind = NEW.kind AND coalesce(t.method, gift_method) = gift_method
      AND t.status = donation_status_after(coalesce(latest, 'requested'),
                                           latest = 'details_received' AND EXISTS (
          SELECT 1 FROM donation_events e
          WHERE e.donation_id = NEW.donation_id AND e.kind = 'confirmed'));
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

-- After a row goes in: the status from the same table (migration 009's
-- projection, read from donation_transitions instead of a second CASE).
CREATE OR REPLACE FUNCTION donation_events_project() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE donations d SET
        status = CASE NEW.kind
            WHEN 'refunded' THEN CASE
                WHEN (SELECT sum(e.amount_cents) FROM donation_events e
                      WHERE e.donation_id = d.id AND e.kind = 'refunded') >= d.amount_cents
                THEN 'refunded' ELSE 'partially_refunded' END
            WHEN 'disputed' THEN 'disputed'
            ELSE donation_status_after(NEW.kind,
                                       d.confirmed_at IS NOT NULL OR NEW.kind = 'confirmed')
            END,
        confirmed_at = CASE WHEN NEW.kind = 'confirmed' THEN NEW.occurred_at ELSE d.confirmed_at END,
        last_event_at = NEW.occurred_at
    WHERE d.id = NEW.donation_id;
    RETURN NULL;
END
$$;
