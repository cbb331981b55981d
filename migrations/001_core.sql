-- Gateway core: contacts, the MO log, long-MO parts, the outbox and delivery receipts.
-- Every MO is a row before it is acknowledged; every MT is a row before it is sent.

CREATE TABLE contacts (
    msisdn      text        NOT NULL,
    shortcode   text        NOT NULL,
    opted_out   boolean     NOT NULL DEFAULT false,
    state       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (msisdn, shortcode)
);

-- One row per mobile-originated message (after reassembly of long MOs).
CREATE TABLE inbound (
    id              bigserial   PRIMARY KEY,
    msisdn          text        NOT NULL,
    shortcode       text        NOT NULL,
    body            text        NOT NULL,
    data_coding     smallint    NOT NULL DEFAULT 0,
    parts           smallint    NOT NULL DEFAULT 1,
    received_at     timestamptz NOT NULL,
    committed_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX inbound_msisdn_idx ON inbound (msisdn, id);

-- Parts of a long MO, stored (and acknowledged) one by one until the set is complete.
CREATE TABLE inbound_parts (
    msisdn      text        NOT NULL,
    shortcode   text        NOT NULL,
    ref         integer     NOT NULL,
    total       smallint    NOT NULL,
    seq         smallint    NOT NULL,
    data_coding smallint    NOT NULL,
    body        bytea       NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (msisdn, shortcode, ref, total, seq)
);
CREATE INDEX inbound_parts_age_idx ON inbound_parts (received_at);

-- The outbox. Rows are claimed with FOR UPDATE SKIP LOCKED so several gateway
-- processes can share one database; a claim is a lease that expires.
CREATE TABLE outbound (
    id              bigserial   PRIMARY KEY,
    msisdn          text        NOT NULL,
    shortcode       text        NOT NULL,
    body            text        NOT NULL,
    priority        smallint    NOT NULL DEFAULT 0,
    compliance      boolean     NOT NULL DEFAULT false,
    in_reply_to     bigint      REFERENCES inbound (id),
    status          text        NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'submitted', 'delivered',
                                      'undeliverable', 'rejected', 'failed', 'suppressed')),
    not_before      timestamptz NOT NULL DEFAULT now(),
    lease_owner     text,
    lease_until     timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    segments        smallint,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    submitted_at    timestamptz,
    final_at        timestamptz
);
CREATE INDEX outbound_ready_idx ON outbound (priority, id) WHERE status = 'queued';
CREATE INDEX outbound_lease_idx ON outbound (lease_until) WHERE status = 'sending';
CREATE INDEX outbound_msisdn_idx ON outbound (msisdn, id);

-- One row per submitted segment: the SMSC's message id is per segment.
CREATE TABLE outbound_segments (
    outbound_id     bigint      NOT NULL REFERENCES outbound (id),
    seq             smallint    NOT NULL,
    smsc_message_id text        NOT NULL,
    status          text        NOT NULL DEFAULT 'submitted',
    error_code      text,
    submitted_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    final_at        timestamptz,
    PRIMARY KEY (outbound_id, seq)
);
CREATE INDEX outbound_segments_smsc_idx ON outbound_segments (smsc_message_id);
CREATE INDEX outbound_segments_open_idx ON outbound_segments (smsc_message_id) WHERE status = 'submitted';

-- Every receipt as received, even one that arrives before its submit_sm_resp:
-- the segment picks it up when its message id is recorded.
CREATE TABLE delivery_receipts (
    id              bigserial   PRIMARY KEY,
    smsc_message_id text        NOT NULL,
    stat            text        NOT NULL,
    error_code      text,
    final           boolean     NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX delivery_receipts_smsc_idx ON delivery_receipts (smsc_message_id);

-- Final receipts that matched no open segment when they arrived (usually: the
-- receipt beat its submit_sm_resp). The sweep applies them once the segment's
-- id is recorded; the table stays small because applied or stale rows go.
CREATE TABLE pending_receipts (
    smsc_message_id text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX pending_receipts_smsc_idx ON pending_receipts (smsc_message_id);

-- Everything the engine decided, per contact, in order: the timeline.
CREATE TABLE contact_events (
    id          bigserial   PRIMARY KEY,
    msisdn      text        NOT NULL,
    shortcode   text        NOT NULL,
    inbound_id  bigint      REFERENCES inbound (id),
    name        text        NOT NULL,
    data        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX contact_events_msisdn_idx ON contact_events (msisdn, id);
