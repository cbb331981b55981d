-- One person, many addresses (issue 15 item 6; gateway/services/persons/,
-- docs/contact-centre.md "One person"). A person is the mobile numbers (E.164)
-- and e-mail addresses (gateway/email_address.py normalize_email) we have
-- VERIFIED belong to one citizen. Nothing here is ever filled on a guess: no
-- same name, no same postal code; every join of two addresses is a row of
-- person_links saying how it was verified.
--
-- Written only by gateway/store/persons.py, in transactions that hold the
-- persons lock (a transaction-level advisory lock), so two joins or a join and
-- an unmerge never interleave.

CREATE TABLE persons (
    id         bigserial   PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every verified join of two addresses, kept after an unmerge (unlinked_*).
-- method:
--   confirmed_link  the holder of address_b followed a one-time link sent to it,
--                   asked for from address_a (person_link_tokens);
--   both_channels   the same citizen confirmed on both channels (evidence names
--                   both confirmations, e.g. an e-mail double opt-in and a
--                   keyword texted from the number given in the same form);
--   expert_merge    a staff member merged them (linked_by, reason; an audit entry).
-- The active links of a person form a tree over its addresses (a join of two
-- addresses already in one person is refused), so undoing one link splits the
-- person in exactly two.
CREATE TABLE person_links (
    id            bigserial   PRIMARY KEY,
    address_a     text        NOT NULL,
    address_b     text        NOT NULL CHECK (address_b <> address_a),
    method        text        NOT NULL
                  CHECK (method IN ('confirmed_link', 'both_channels', 'expert_merge')),
    evidence      jsonb       NOT NULL DEFAULT '{}',
    linked_by     text        NOT NULL CHECK (linked_by <> ''),
    reason        text,
    linked_at     timestamptz NOT NULL,
    unlinked_at   timestamptz,
    unlinked_by   text,
    unlink_reason text,
    CHECK (method <> 'expert_merge' OR coalesce(btrim(reason), '') <> ''),
    CHECK ((unlinked_at IS NULL) = (unlinked_by IS NULL)),
    CHECK (unlinked_at IS NULL OR coalesce(btrim(unlink_reason), '') <> '')
);
CREATE INDEX person_links_a_idx ON person_links (address_a);
CREATE INDEX person_links_b_idx ON person_links (address_b);

-- The current membership: an address belongs to at most one person (the
-- primary key). A lone address is no person: it has no row here.
CREATE TABLE person_addresses (
    address   text        PRIMARY KEY,
    channel   text        NOT NULL CHECK (channel IN ('sms', 'email')),
    person_id bigint      NOT NULL REFERENCES persons (id),
    added_at  timestamptz NOT NULL,
    CHECK (channel <> 'sms' OR address ~ '^\+[1-9][0-9]{6,14}$'),
    CHECK (channel <> 'email' OR (address LIKE '%_@_%' AND address = lower(address)))
);
CREATE INDEX person_addresses_person_idx ON person_addresses (person_id);

-- A link asked for from `known_address` and sent to `claimed_address`: only a
-- SHA-256 of the token is stored (the token itself is in the e-mail or SMS),
-- it is used once (used_at) and refused after expires_at. mail_id / outbound_id:
-- the message that carried it.
CREATE TABLE person_link_tokens (
    id              bigserial   PRIMARY KEY,
    token_hash      bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    known_address   text        NOT NULL,
    claimed_address text        NOT NULL CHECK (claimed_address <> known_address),
    language        text        NOT NULL CHECK (language IN ('fr', 'en')),
    requested_by    text        NOT NULL CHECK (requested_by <> ''),
    evidence        jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL CHECK (expires_at > created_at),
    used_at         timestamptz,
    link_id         bigint      REFERENCES person_links (id) ON DELETE SET NULL,
    mail_id         bigint      REFERENCES mail_outbox (id),
    outbound_id     bigint      REFERENCES outbound (id)
);
CREATE INDEX person_link_tokens_known_idx ON person_link_tokens (known_address);
CREATE INDEX person_link_tokens_claimed_idx ON person_link_tokens (claimed_address);

-- The person's e-mail in, found by sender for the timeline, the export and
-- erasure (addresses are stored as written; compared in lower case).
CREATE INDEX mail_inbound_from_lower_idx ON mail_inbound (lower(from_address));
