-- The lane's batch read takes the batch's numbers' locks itself (store/lane_reads.py,
-- store/number_locks.py; docs/performance.md, "The MO lane batch").
--
-- The locks used to ride with BEGIN in one simple query, which PostgreSQL parses and
-- plans on every batch: 140-180 us of its CPU per batch against 40 for a bare BEGIN.
-- Inside this function the lock statement keeps one plan per connection.
--
-- Order stays safe because the function is VOLATILE: in READ COMMITTED each of its
-- statements takes a new snapshot, so the read, which comes after the locks, sees
-- whatever another instance committed for these numbers before letting go of them
-- (the outer SELECT's snapshot, older than the locks, reads nothing). The keys come
-- sorted, and unnest yields them in order: every transaction takes its locks in one
-- order, so none can wait for another in a circle.
DROP FUNCTION lane_read(text[], text[], boolean, boolean, bytea[], timestamptz);

CREATE FUNCTION lane_read(lock_space int4, lock_keys int4[],
                          msisdns text[], shortcodes text[], cards boolean, holds boolean,
                          digests bytea[], since timestamptz)
RETURNS TABLE (msisdn text, shortcode text, opted_out boolean, state text, last4 text,
               held boolean, unacked_id bigint, digest bytea, received_at timestamptz,
               inbound_id bigint)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    PERFORM count(pg_advisory_xact_lock(lock_space, k)) FROM unnest(lock_keys) AS t(k);
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
