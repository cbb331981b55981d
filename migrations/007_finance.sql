-- Finance: settlement files and Stripe balance transactions as imported, and
-- which donation each settled line belongs to (gateway/finance/, README-finance).
-- Money is integer cents, signed: a negative amount is money taken back
-- (a refund, a chargeback, a carrier write-off). Nothing here is ever updated.

-- One row per import. The hash is the file's idempotency: the same bytes again
-- find this row and add nothing. Its new rows are the lines that point at it.
CREATE TABLE settlement_imports (
    id          bigserial   PRIMARY KEY,
    source      text        NOT NULL CHECK (source IN ('carrier', 'stripe')),
    name        text        NOT NULL,               -- file name, or stripe-api
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    mapping     text        NOT NULL,               -- the column mapping used
    rows_total  integer     NOT NULL,               -- data rows in the file
    rows_bad    integer     NOT NULL,               -- rows refused (problems)
    problems    jsonb       NOT NULL DEFAULT '[]'::jsonb,  -- [{line, column, message}]
    imported_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (source, sha256)
);

-- One row per settled item. `row_key` is the row's identity across files: the
-- line id the file gives (Stripe's txn_...), else a digest of its fields and
-- its rank among identical rows, so an overlapping period adds only new rows.
CREATE TABLE settlement_lines (
    id           bigserial   PRIMARY KEY,
    source       text        NOT NULL CHECK (source IN ('carrier', 'stripe')),
    row_key      text        NOT NULL,
    import_id    bigint      NOT NULL REFERENCES settlement_imports (id),
    line_no      integer     NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('payment', 'refund', 'chargeback',
                                                      'write_off', 'fee', 'payout', 'other')),
    message_id   text,       -- the SMSC message id of the billed MT (carrier)
    donation_ref bigint,     -- our donation id, when the file carries it
    payment_ref  text,       -- PaymentIntent id (Stripe)
    source_ref   text,       -- Stripe's source object (ch_, re_, dp_, po_...)
    msisdn       text,
    carrier      text,
    amount_cents bigint      NOT NULL,
    fee_cents    bigint      NOT NULL,
    net_cents    bigint      NOT NULL,
    currency     text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    settled_on   date        NOT NULL,
    description  text,
    CHECK (amount_cents - fee_cents = net_cents),
    UNIQUE (source, row_key)
);
CREATE INDEX settlement_lines_message_idx ON settlement_lines (message_id)
    WHERE message_id IS NOT NULL;
CREATE INDEX settlement_lines_payment_idx ON settlement_lines (payment_ref)
    WHERE payment_ref IS NOT NULL;

CREATE FUNCTION settlement_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'a settlement line is what the carrier or Stripe reported; import a new file';
END
$$;
CREATE TRIGGER settlement_lines_append_only
    BEFORE UPDATE OR DELETE ON settlement_lines
    FOR EACH ROW EXECUTE FUNCTION settlement_refuse_change();
CREATE TRIGGER settlement_imports_append_only
    BEFORE UPDATE OR DELETE ON settlement_imports
    FOR EACH ROW EXECUTE FUNCTION settlement_refuse_change();

-- Each line's donation, resolved when read (never stored), so the order in which
-- files and ledger events arrive cannot change a match. First hit wins: our own
-- reference, then the billed MT's SMSC message id (any segment, or the billed
-- event's ref), then the PaymentIntent. A carrier line only matches a carrier
-- donation, a Stripe line only a card donation.
CREATE VIEW settlement_matches AS
SELECT l.id AS line_id, m.donation_id
FROM settlement_lines l
LEFT JOIN LATERAL (
    SELECT c.donation_id FROM (
        SELECT l.donation_ref AS donation_id, 1 AS rank WHERE l.donation_ref IS NOT NULL
        UNION ALL
        SELECT o.donation_id, 2 FROM outbound_segments g JOIN outbound o ON o.id = g.outbound_id
        WHERE g.smsc_message_id = l.message_id AND o.donation_id IS NOT NULL
        UNION ALL
        SELECT e.donation_id, 3 FROM donation_events e
        WHERE e.external_ref = l.message_id AND e.kind = 'billed'
        UNION ALL
        SELECT e.donation_id, 4 FROM donation_events e
        WHERE e.external_ref = l.payment_ref
          AND e.kind IN ('charged', 'requires_action', 'failed')
    ) c
    JOIN donations d ON d.id = c.donation_id
     AND d.method = CASE l.source WHEN 'carrier' THEN 'carrier' ELSE 'card' END
    ORDER BY c.rank, c.donation_id LIMIT 1
) m ON true;

-- The keyword of a donation is its requesting MO's `donation_requested` event.
CREATE INDEX contact_events_donation_requested_idx ON contact_events (inbound_id)
    WHERE name = 'donation_requested';
