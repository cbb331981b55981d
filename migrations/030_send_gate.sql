-- The outbox's last opt-out check in one round trip (store/number_locks.py,
-- pipeline/send_gate.py): let go of the numbers whose MTs were written, try
-- the shared locks of the numbers about to be sent to (never waiting), then
-- read their opt-outs. The read must come after the locks: a VOLATILE
-- function takes a fresh snapshot for each of its queries, so it sees every
-- STOP that committed before the lock was taken (one SQL statement could
-- not: its snapshot predates its own lock calls).
CREATE FUNCTION send_gate_check(lock_space int4, release_keys int4[], keys int4[],
                                msisdns text[], shortcodes text[])
RETURNS TABLE (msisdn text, shortcode text, opted_out boolean)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    locked int4[];
BEGIN
    PERFORM pg_advisory_unlock_shared(lock_space, r.k) FROM unnest(release_keys) AS r(k);
    SELECT coalesce(array_agg(t.k), '{}') INTO locked
    FROM (SELECT DISTINCT u.k FROM unnest(keys) AS u(k)) AS t
    WHERE pg_try_advisory_lock_shared(lock_space, t.k);
    RETURN QUERY
    SELECT p.msisdn, p.shortcode, coalesce(c.opted_out, false)
    FROM unnest(msisdns, shortcodes, keys) AS p(msisdn, shortcode, k)
    LEFT JOIN contacts c ON c.msisdn = p.msisdn AND c.shortcode = p.shortcode
    WHERE p.k = ANY (locked);
END
$$;
