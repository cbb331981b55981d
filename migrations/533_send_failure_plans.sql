-- The sender's other results as functions, for the reason of migrations 530-532:
-- under plans made when `outbound` held 40 rows, requeueing, failing or
-- suppressing 50 messages of an outbox grown to 20,000 each read all 20,040
-- rows. These are the paths of a fault (an SMSC refusing, a link dropped with
-- a backlog), when reading the whole outbox for every batch hurts most.
-- With sequential scans and hash and merge joins off while they run, their
-- plans probe by key (docs/performance.md).

-- store/outbound.py `requeue`.
CREATE FUNCTION requeue_rows(p_ids bigint[], p_delays float8[], p_errors text[], p_unsure boolean[],
                             p_hold_seconds float8)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
    UPDATE outbound o SET status = 'queued', lease_owner = NULL, lease_until = NULL,
                          not_before = now() + make_interval(secs => k.delay), last_error = k.error,
                          unsure_since = CASE WHEN k.unsure
                                              THEN coalesce(o.unsure_since,
                                                            now() - make_interval(secs => p_hold_seconds))
                                              ELSE o.unsure_since END
    FROM unnest(p_ids, p_delays, p_errors, p_unsure) AS k(id, delay, error, unsure)
    WHERE o.id = k.id AND o.status = 'sending';
END
$$;

-- store/outbound.py `mark_failed`.
CREATE FUNCTION fail_rows(p_ids bigint[], p_errors text[], p_unsure boolean[], p_hold_seconds float8)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
    UPDATE outbound o SET status = 'failed', lease_owner = NULL, lease_until = NULL,
                          final_at = now(), last_error = k.error,
                          unsure_since = CASE WHEN k.unsure
                                              THEN coalesce(o.unsure_since,
                                                            now() - make_interval(secs => p_hold_seconds))
                                              ELSE o.unsure_since END
    FROM unnest(p_ids, p_errors, p_unsure) AS k(id, error, unsure)
    WHERE o.id = k.id AND o.status = 'sending';
END
$$;

-- store/outbound.py `mark_suppressed`.
CREATE FUNCTION suppress_rows(p_ids bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
    UPDATE outbound SET status = 'suppressed', lease_owner = NULL, lease_until = NULL,
                        final_at = now(), last_error = 'opted out before the send'
    WHERE id = ANY(p_ids) AND status = 'sending';
END
$$;
