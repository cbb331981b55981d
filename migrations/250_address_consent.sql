-- Consent for e-mail (and any later channel whose address is not a phone number):
-- issue #15 item 5, docs/privacy.md ("Consent by channel"), docs/email.md.
--
-- The SMS ledger (consent_events, migration 002) is keyed by number and short
-- code and points at MOs and MTs; an e-mail address has none of those, so it
-- gets a ledger of its own with the same guarantees: one row per opt-in
-- request, confirmation and opt-out, what the citizen was shown (wording and
-- version, privacy charter) and the evidence, never updated nor deleted.
-- gateway/store/address_consent.py is the one writer of every table here.

-- The ledger. One row per consent step, append-only (trigger below).
--   channel          'email' today; a new channel widens the CHECK with its own address rule
--   address          gateway/email_address.normalize_email's form; 'erased:<hex>' after erasure
--   program          a keywords.yaml program id (the list the person joins or leaves)
--   kind             opt_in_requested (a ticked box, an explicit request, an import)
--                    opt_in_confirmed (the double opt-in link's button)
--                    opted_out (a link, RFC 8058 one-click, a reply saying so)
--   source           where the step came from (see the CHECK)
--   wording          what the citizen was shown or sent for this step (the box's label,
--                    the confirmation page's statement...), never containing the address
--   wording_version  its version, from configuration or the shipped texts
--   privacy_url, privacy_version  the program's charter at that moment
--   language         the language the citizen was addressed in ('en', 'fr')
--   request_id       for a confirmation: the request it confirms
--   mail_outbox_id   for a request: the confirmation mail that carried the link
--   mail_inbound_id  a mail the step came from (a reply saying "unsubscribe")
--   web_submission_id  the public form's stored submission (the form's own table)
--   client_ip        the address a web opt-in or confirmation was posted from: GDPR art. 7(1)
--                    asks us to be able to show consent was given; an opt-out needs no proof
--                    from the citizen, so none is kept for it (data minimisation)
--   citizen_text     the citizen's own words read as the step (a reply's line); '' otherwise
CREATE TABLE address_consent_events (
    id                bigserial   PRIMARY KEY,
    channel           text        NOT NULL DEFAULT 'email' CHECK (channel IN ('email')),
    address           text        NOT NULL
                      CHECK (address LIKE 'erased:%' OR (address LIKE '%_@_%'
                                                         AND address = lower(address))),
    program           text        NOT NULL CHECK (program <> ''),
    kind              text        NOT NULL
                      CHECK (kind IN ('opt_in_requested', 'opt_in_confirmed', 'opted_out')),
    source            text        NOT NULL
                      CHECK (source IN ('web_form', 'email', 'sms_keyword', 'import',
                                        'confirm_link', 'unsubscribe_link', 'list_unsubscribe',
                                        'reply')),
    wording           text        NOT NULL CHECK (wording <> ''),
    wording_version   text        NOT NULL CHECK (wording_version <> ''),
    privacy_url       text        NOT NULL,
    privacy_version   text        NOT NULL,
    language          text        NOT NULL CHECK (language IN ('en', 'fr')),
    request_id        bigint      REFERENCES address_consent_events (id),
    mail_outbox_id    bigint      REFERENCES mail_outbox (id),
    mail_inbound_id   bigint      REFERENCES mail_inbound (id),
    web_submission_id bigint,
    client_ip         inet,
    citizen_text      text        NOT NULL DEFAULT '',
    occurred_at       timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((kind = 'opt_in_confirmed') = (request_id IS NOT NULL)),
    CHECK (kind <> 'opt_in_confirmed' OR source = 'confirm_link'),
    CHECK (kind <> 'opted_out' OR source IN ('unsubscribe_link', 'list_unsubscribe', 'reply')),
    CHECK (kind <> 'opt_in_requested'
           OR source IN ('web_form', 'email', 'sms_keyword', 'import')),
    CHECK (kind <> 'opted_out' OR client_ip IS NULL)
);
CREATE INDEX address_consent_events_address_idx
    ON address_consent_events (channel, address, program, id);
-- "was this request already recorded?" (a replayed form post or mail)
CREATE INDEX address_consent_events_submission_idx
    ON address_consent_events (web_submission_id) WHERE web_submission_id IS NOT NULL;
CREATE INDEX address_consent_events_inbound_idx
    ON address_consent_events (mail_inbound_id) WHERE mail_inbound_id IS NOT NULL;

-- Append-only, like consent_events: erasure (SET LOCAL gateway.erasing = 'on',
-- migration 012) may only replace the address by its pseudonym and empty the
-- citizen's words and IP; every other column stays as it was, DELETE stays refused.
CREATE FUNCTION address_consent_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND erasing()
       AND erasure_only(to_jsonb(OLD), to_jsonb(NEW),
                        ARRAY['address', 'citizen_text', 'client_ip'])
       AND NEW.address LIKE 'erased:%' AND NEW.citizen_text = '' AND NEW.client_ip IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'address_consent_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'record a new consent event instead of changing an old one';
END
$$;

CREATE TRIGGER address_consent_events_append_only
    BEFORE UPDATE OR DELETE ON address_consent_events
    FOR EACH ROW EXECUTE FUNCTION address_consent_events_refuse_change();
CREATE TRIGGER address_consent_events_no_truncate
    BEFORE TRUNCATE ON address_consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION address_consent_events_refuse_change();

-- The state now, per (channel, address, program): the kind of its last ledger
-- row, written by the same statement that appends the row, so the two cannot
-- disagree.
--   pending       asked, not confirmed (or asked again after an opt-out): no bulk mail
--   subscribed    confirmed: bulk mail allowed
--   unsubscribed  opted out: no bulk mail until a new request is confirmed
CREATE TABLE address_subscriptions (
    channel        text        NOT NULL DEFAULT 'email' CHECK (channel IN ('email')),
    address        text        NOT NULL CHECK (address LIKE '%_@_%' AND address = lower(address)),
    program        text        NOT NULL,
    state          text        NOT NULL CHECK (state IN ('pending', 'subscribed', 'unsubscribed')),
    state_event_id bigint      NOT NULL UNIQUE REFERENCES address_consent_events (id),
    since          timestamptz NOT NULL,
    PRIMARY KEY (channel, address, program)
);
CREATE INDEX address_subscriptions_program_idx
    ON address_subscriptions (program, state, address);

-- Double opt-in links: the token is 32 random bytes given once in the mail;
-- only its SHA-256 is kept. A token is used once (closed_by 'confirmed'), dies
-- at expires_at, and is closed when the address opts out before using it.
CREATE TABLE address_consent_tokens (
    id             bigserial   PRIMARY KEY,
    token_hash     text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    channel        text        NOT NULL DEFAULT 'email' CHECK (channel IN ('email')),
    address        text        NOT NULL,
    program        text        NOT NULL,
    language       text        NOT NULL CHECK (language IN ('en', 'fr')),
    request_id     bigint      NOT NULL UNIQUE REFERENCES address_consent_events (id),
    mail_outbox_id bigint      REFERENCES mail_outbox (id),
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    closed_at      timestamptz,
    closed_by      text        CHECK (closed_by IN ('confirmed', 'unsubscribed')),
    CHECK (expires_at > created_at),
    CHECK ((closed_at IS NULL) = (closed_by IS NULL))
);
CREATE INDEX address_consent_tokens_open_idx
    ON address_consent_tokens (channel, address, program) WHERE closed_at IS NULL;

-- Erased addresses, kept as a keyed hash (HMAC-SHA256 under
-- GATEWAY_PRIVACY_HASH_SECRET, like erased_numbers): an import never brings an
-- erased address back, and the programs it had left are remembered. A new
-- explicit request from the person, confirmed, is new consent and works.
CREATE TABLE erased_addresses (
    channel            text        NOT NULL DEFAULT 'email' CHECK (channel IN ('email')),
    address_hash       text        NOT NULL CHECK (address_hash ~ '^[0-9a-f]{64}$'),
    opted_out_programs text[]      NOT NULL DEFAULT '{}',
    reason             text        NOT NULL CHECK (reason IN ('request', 'retention')),
    erased_by          text        NOT NULL,
    erased_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (channel, address_hash)
);
