-- Donor details: holds that also cover Checkout gifts, and the links of the
-- donor-details web form (gateway/web/donor_details.py, README-donations).

-- A Checkout gift (no YES: paying on the page is the confirmation) may now be
-- held for donor details before its link is sent. Releasing it must send it
-- back to `requested`, where the billing service offers the page, not to
-- `confirmed`, where it would be charged without anyone having said yes.
-- Otherwise the projection is migration 003's.
CREATE OR REPLACE FUNCTION donation_events_project() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE donations d SET
        status = CASE NEW.kind
            WHEN 'confirmation_sent' THEN 'awaiting_confirmation'
            WHEN 'details_requested' THEN 'awaiting_details'
            WHEN 'details_received' THEN CASE WHEN d.confirmed_at IS NULL
                                              THEN 'requested' ELSE 'confirmed' END
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

-- One row per link texted for a held donation. Only the SHA-256 of the token
-- is kept: the token is in the SMS, and a copy of this table must not be a
-- way to write someone's details. A link works until `expires_at` (the hold's
-- own expiry) and only while its donation is held; nothing here is money.
CREATE TABLE donor_detail_links (
    token_sha256 bytea       PRIMARY KEY CHECK (length(token_sha256) = 32),
    donation_id  bigint      NOT NULL REFERENCES donations (id),
    msisdn       text        NOT NULL,
    committee    text        NOT NULL,
    needed       text[]      NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX donor_detail_links_donation_idx ON donor_detail_links (donation_id);

-- The SMS dialog reads a number's held donations on every MO batch.
CREATE INDEX donations_held_idx ON donations (msisdn, shortcode)
    WHERE status = 'awaiting_details';
