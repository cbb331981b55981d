-- Plans that stay index probes however the tables grow (docs/performance.md).
--
-- PostgreSQL keeps a prepared statement's generic plan until the table is
-- analyzed again. Made while `contacts` held a few dozen rows, the plan of a
-- batch lookup may read the table whole and hash it, and keeps doing so as
-- a rally's first minute adds thousands of supporters before autovacuum's
-- next ANALYZE: the MO benchmark saw 14 million rows read for 20,000 MOs.
--
-- The two lookups on the MO and MT paths (the lane's batch read, the
-- outbox's last opt-out check) are keyed by (number, short code) and look up
-- at most a window of keys: an index probe per key is the right plan at any
-- table size. Their statements run inside functions whose SET clauses turn
-- off sequential scans, hash and merge joins while the function runs, so
-- the plan the function caches is index probes, whatever the statistics
-- said when it was made. Nothing else on the connection is affected.

ALTER FUNCTION send_gate_check(int4, int4[], int4[], text[], text[])
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;

-- The lane's batch read (store/lane_reads.py): per (number, short code) the
-- contact's state, the newest saved card's last four digits (when $3), whether
-- a donation waits for the donor's details (when $4); then, as rows of their
-- own, the unread acknowledgements of these digests received since `since`.
CREATE FUNCTION lane_read(msisdns text[], shortcodes text[], cards boolean, holds boolean,
                          digests bytea[], since timestamptz)
RETURNS TABLE (msisdn text, shortcode text, opted_out boolean, state text, last4 text,
               held boolean, unacked_id bigint, digest bytea, received_at timestamptz,
               inbound_id bigint)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT k.msisdn, k.shortcode, c.opted_out, c.state::text, s.last4,
           h.msisdn IS NOT NULL,
           NULL::bigint, NULL::bytea, NULL::timestamptz, NULL::bigint
    FROM unnest(msisdns, shortcodes) AS k(msisdn, shortcode)
    LEFT JOIN contacts c ON c.msisdn = k.msisdn AND c.shortcode = k.shortcode
    LEFT JOIN LATERAL (
        SELECT sc.last4 FROM saved_cards sc
        WHERE cards AND sc.msisdn = k.msisdn
        ORDER BY sc.created_at DESC, sc.payment_method_id DESC
        LIMIT 1
    ) s ON true
    LEFT JOIN LATERAL (
        SELECT d.msisdn FROM donations d
        WHERE holds AND d.status = 'awaiting_details'
          AND d.msisdn = k.msisdn AND d.shortcode = k.shortcode
        LIMIT 1
    ) h ON true
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, u.id, u.digest, u.received_at, u.inbound_id
    FROM inbound_unacked u
    WHERE u.digest = ANY (digests) AND u.received_at >= since;
END
$$;
