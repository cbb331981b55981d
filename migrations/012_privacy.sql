-- Privacy rights (GDPR; CNIL guidance for political communication): erasure
-- deletes or pseudonymizes a number's personal data, keeping two things:
--   * the opt-out, as a keyed hash of the number (erased_numbers), so a number
--     that opted out stays suppressed if it ever texts again;
--   * the financial records the law requires (donations, their ledger, donor
--     details for the FEC, settlement lines), with the number replaced by a
--     pseudonym ('erased:' + the start of the same keyed hash), so every report
--     total stays what it was.
-- The append-only ledgers refused every UPDATE; erasure is the one exception,
-- allowed only inside a transaction that says so (SET LOCAL gateway.erasing =
-- 'on', gateway/store/privacy.py) and only for the personal columns: everything
-- else in the row must stay exactly as it was, and DELETE stays refused.

CREATE TABLE erased_numbers (
    number_hash text        NOT NULL CHECK (number_hash ~ '^[0-9a-f]{64}$'),  -- HMAC-SHA256
    shortcode   text        NOT NULL,
    opted_out   boolean     NOT NULL,   -- suppressed if the number comes back
    reason      text        NOT NULL CHECK (reason IN ('request', 'retention')),
    erased_by   text        NOT NULL,
    erased_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (number_hash, shortcode)
);

CREATE FUNCTION erasing() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('gateway.erasing', true), '') = 'on' $$;

-- True when OLD -> NEW is an erasure: only `personal` columns change, and a
-- changed msisdn becomes a pseudonym.
CREATE FUNCTION erasure_only(old_row jsonb, new_row jsonb, personal text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (old_row - personal) = (new_row - personal)
       AND (NOT (new_row ? 'msisdn') OR new_row->>'msisdn' IS NULL
            OR new_row->>'msisdn' LIKE 'erased:%')
$$;

CREATE OR REPLACE FUNCTION consent_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND erasing()
       AND erasure_only(to_jsonb(OLD), to_jsonb(NEW), ARRAY['msisdn', 'mo_text']) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'record a new consent event instead of changing an old one';
END
$$;

CREATE OR REPLACE FUNCTION donations_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    refused boolean := TG_OP <> 'UPDATE' OR pg_trigger_depth() < 2;
BEGIN
    IF TG_OP = 'UPDATE' AND erasing()
       AND erasure_only(to_jsonb(OLD), to_jsonb(NEW), ARRAY['msisdn']) THEN
        RETURN NEW;
    END IF;
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

CREATE OR REPLACE FUNCTION stripe_webhook_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND erasing()
       AND erasure_only(to_jsonb(OLD), to_jsonb(NEW), ARRAY['payload']) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'stripe_webhook_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'a Stripe event is a record of what Stripe said; store a new one instead';
END
$$;

CREATE OR REPLACE FUNCTION settlement_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'settlement_lines' AND erasing()
       AND erasure_only(to_jsonb(OLD), to_jsonb(NEW), ARRAY['msisdn']) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'a settlement line is what the carrier or Stripe reported; import a new file';
END
$$;

CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND erasing()
       AND erasure_only(to_jsonb(OLD), to_jsonb(NEW), ARRAY['target', 'detail']) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'record a new audit entry instead of changing an old one';
END
$$;

-- The retention job looks for contacts idle since a date.
CREATE INDEX contacts_updated_idx ON contacts (updated_at);
