-- MOs (and long-MO parts) stored whose deliver_sm_resp the SMSC has not been
-- seen to read. A row is written in the transaction that stores the MO and
-- deleted once the SMSC answers a request we wrote after that resp; what is
-- left after a crash or a dropped link is what the SMSC may deliver again.
-- `digest` covers the number, short code, coding, concatenation reference and
-- part, and the body, so the table holds no number or text of its own.
-- Rows older than the redelivery window are pruned (pipeline/read_marks.py), by a
-- scan: the table holds only the MOs in flight, so an age index would cost every
-- insert for a once-a-minute delete.
CREATE TABLE inbound_unacked (
    id          bigint      PRIMARY KEY,
    digest      bytea       NOT NULL,
    received_at timestamptz NOT NULL,
    inbound_id  bigint      -- the whole MO it completed; NULL for a part still waiting
);
CREATE SEQUENCE inbound_unacked_id_seq OWNED BY inbound_unacked.id;
CREATE INDEX inbound_unacked_digest_idx ON inbound_unacked (digest);

-- Every MO the SMSC delivered again after we stored it: acknowledged, not
-- stored or decided a second time.
CREATE TABLE inbound_redeliveries (
    id                bigserial   PRIMARY KEY,
    inbound_id        bigint      REFERENCES inbound (id) ON DELETE SET NULL,  -- NULL: a part
    first_received_at timestamptz NOT NULL,
    received_at       timestamptz NOT NULL
);
CREATE INDEX inbound_redeliveries_inbound_idx ON inbound_redeliveries (inbound_id);
