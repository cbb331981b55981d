-- The consent ledger (append-only) and the contacts' derived location columns.
-- CTIA / COMPLIANCE.md item 9: every opt-in request, opt-in, opt-out and
-- re-subscription is a row someone can show a carrier auditor years later.

CREATE TABLE consent_events (
    id                  bigserial   PRIMARY KEY,
    msisdn              text        NOT NULL,
    shortcode           text        NOT NULL,
    program             text        NOT NULL,
    program_name        text        NOT NULL,
    kind                text        NOT NULL
                        CHECK (kind IN ('opt_in_requested', 'opt_in_confirmed', 'opted_out',
                                        'resubscribed')),
    inbound_id          bigint      NOT NULL REFERENCES inbound (id),
    mo_text             text        NOT NULL,   -- exactly as received, after reassembly
    keyword             text        NOT NULL,   -- the normalized word (or STOP phrase)
    disclosure_text     text        NOT NULL,   -- the MT text as rendered and queued
    disclosure_version  text        NOT NULL,
    privacy_url         text        NOT NULL,
    privacy_version     text        NOT NULL,
    -- The MT that carried the disclosure; NULL when none was sent (a repeated
    -- STOP during a flood). Its delivery receipt is in consent_ledger below.
    outbound_id         bigint      REFERENCES outbound (id),
    occurred_at         timestamptz NOT NULL,   -- the MO's receipt time, UTC
    recorded_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX consent_events_contact_idx ON consent_events (msisdn, shortcode, id);
CREATE INDEX consent_events_outbound_idx ON consent_events (outbound_id)
    WHERE outbound_id IS NOT NULL;

-- A consent row finds its MT as "reply number N of this MO" (store/consent.py);
-- the same index serves "what did we answer to this MO" and inbound retention
-- (outbound.in_reply_to references inbound). Broadcasts (no MO) stay out of it.
CREATE INDEX outbound_in_reply_to_idx ON outbound (in_reply_to, id)
    WHERE in_reply_to IS NOT NULL;

-- Append-only: a ledger row is what was decided and said at the time. Any
-- UPDATE, DELETE or TRUNCATE fails, whoever runs it. Changing that (erasure
-- after the retention period) takes a new migration that says why.
CREATE FUNCTION consent_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'record a new consent event instead of changing an old one';
END
$$;

CREATE TRIGGER consent_events_append_only
    BEFORE UPDATE OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_refuse_change();
CREATE TRIGGER consent_events_no_truncate
    BEFORE TRUNCATE ON consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION consent_events_refuse_change();

-- The ledger with its confirmation MT's fate. The ledger row never changes;
-- the receipt is read live from the outbox:
--   confirmation_status  the outbox status (queued, submitted, delivered, suppressed...)
--   receipt_status       the carrier's final stat: DELIVRD once every segment was
--                        delivered, else the first failed segment's stat (UNDELIV,
--                        REJECTD...), NULL while no final receipt has arrived
CREATE VIEW consent_ledger AS
SELECT e.id, e.msisdn, e.shortcode, e.program, e.program_name, e.kind,
       e.inbound_id, e.mo_text, e.keyword, e.disclosure_text, e.disclosure_version,
       e.privacy_url, e.privacy_version, e.outbound_id, e.occurred_at, e.recorded_at,
       o.status       AS confirmation_status,
       o.submitted_at AS confirmation_submitted_at,
       r.receipt_status,
       r.receipt_at,
       r.smsc_message_ids
FROM consent_events e
LEFT JOIN outbound o ON o.id = e.outbound_id
LEFT JOIN LATERAL (
    SELECT CASE
             WHEN bool_and(s.status = 'DELIVRD') THEN 'DELIVRD'
             ELSE (array_agg(s.status ORDER BY s.seq)
                     FILTER (WHERE s.status NOT IN ('DELIVRD', 'submitted')))[1]
           END AS receipt_status,
           CASE WHEN bool_and(s.final_at IS NOT NULL) THEN max(s.final_at) END AS receipt_at,
           array_agg(s.smsc_message_id ORDER BY s.seq) AS smsc_message_ids
    FROM outbound_segments s
    WHERE s.outbound_id = e.outbound_id
    HAVING count(*) > 0
) r ON true;

-- Where a contact is, derived from the profile for quiet hours and targeting:
--   zip          US ZIP (or French postal code) the supporter gave, when known
--   region       US state code (NY) from the zip or the area code; French département
--   country      ISO 3166 alpha-2 (US, FR...)
--   timezones    IANA zones; several when the area code spans zones (quiet hours
--                then allow only the hours allowed in every one of them)
--   geo_source   'zip' (the supporter told us) or 'area_code' (guessed from the number)
ALTER TABLE contacts
    ADD COLUMN zip        text,
    ADD COLUMN region     text,
    ADD COLUMN country    text,
    ADD COLUMN timezones  text[],
    ADD COLUMN geo_source text CHECK (geo_source IN ('zip', 'area_code'));
