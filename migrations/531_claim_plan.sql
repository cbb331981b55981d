-- The outbox's claim (store/outbound.py `claim`) as a function, for the same
-- reason as migration 530: a claim's plan made while `outbound` held a few
-- rows read the whole queue for every claim once a broadcast had queued
-- thousands (a claim of 50 read 40,000 rows). With sequential scans and hash
-- and merge joins off, and the locked rows found by primary key (`status`,
-- not the partial indexes' `indexed_status`, so no partial index can stand in
-- for the key), a claim reads the due index up to its limit per priority and
-- then one row per candidate, whatever the statistics said. What each step
-- does is explained next to `claim` in store/outbound.py.
CREATE FUNCTION claim_outbound(p_limit int, p_owner text, p_lease_seconds float8,
                               p_priorities int2[], p_capped text[])
RETURNS TABLE (id bigint, msisdn text, shortcode text, body text, priority int2,
               not_before timestamptz, attempts int, suppress boolean, held boolean,
               donation_id bigint, service_type text, compliance boolean,
               billing_tlvs text, mo_received_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH candidates AS (
        SELECT due.id, due.priority, due.not_before
        FROM unnest(p_priorities) AS p(priority)
        CROSS JOIN LATERAL (
            SELECT o.id, o.priority, o.not_before
            FROM outbound o
            WHERE o.indexed_status = 'queued' AND o.priority = p.priority
              AND o.not_before <= now()
              AND (o.not_after IS NULL OR o.not_after > now())
              AND (o.subject_cap IS NULL OR o.msisdn = ANY(p_capped))
              AND (o.broadcast_id IS NULL
                   OR EXISTS (SELECT 1 FROM broadcasts b
                              WHERE b.id = o.broadcast_id AND b.status = 'running'))
            ORDER BY o.not_before, o.id
            LIMIT p_limit
        ) AS due
    ),
    ready AS (
        SELECT o.id, o.msisdn, o.shortcode, o.subject, o.subject_cap, o.subject_period_s,
               coalesce(c.opted_out, false) AND NOT o.compliance AS suppress
        FROM candidates k
        JOIN outbound o ON o.id = k.id
        LEFT JOIN contacts c ON c.msisdn = o.msisdn AND c.shortcode = o.shortcode
        WHERE o.status = 'queued'
        ORDER BY k.priority, k.not_before, k.id
        LIMIT p_limit
        FOR UPDATE OF o SKIP LOCKED
    ),
    ranked AS (
        SELECT r.*, CASE WHEN r.subject_cap IS NULL OR r.suppress THEN 1
                         ELSE row_number() OVER (PARTITION BY r.msisdn, r.shortcode, r.subject,
                                                              r.subject_cap IS NULL OR r.suppress
                                                 ORDER BY r.id) END AS nth
        FROM ready r
    ),
    decided AS (
        SELECT r.id, r.suppress,
               CASE WHEN r.subject_cap IS NULL OR r.suppress THEN NULL
                    ELSE (SELECT s.sent_at FROM (
                              SELECT coalesce(s.submitted_at, now()) AS sent_at
                              FROM outbound s
                              WHERE s.msisdn = r.msisdn AND s.subject = r.subject
                                AND s.shortcode = r.shortcode AND s.id <> r.id
                                AND s.status IN ('sending', 'submitted', 'delivered',
                                                 'undeliverable', 'rejected')
                                AND coalesce(s.submitted_at, now())
                                    > now() - make_interval(secs => r.subject_period_s)
                          ) s
                          ORDER BY s.sent_at DESC
                          OFFSET r.subject_cap - 1 LIMIT 1)
                         + make_interval(secs => r.subject_period_s)
               END AS hold_until
        FROM ranked r
        WHERE r.nth = 1
    )
    UPDATE outbound o
    SET status = CASE WHEN d.suppress THEN 'suppressed'
                      WHEN d.hold_until IS NOT NULL THEN 'queued' ELSE 'sending' END,
        not_before = coalesce(d.hold_until, o.not_before),
        last_error = CASE WHEN d.hold_until IS NOT NULL
                          THEN 'held: frequency cap on subject ' || o.subject ELSE o.last_error END,
        lease_owner = CASE WHEN d.suppress OR d.hold_until IS NOT NULL THEN NULL ELSE p_owner END,
        lease_until = CASE WHEN d.suppress OR d.hold_until IS NOT NULL THEN NULL
                           ELSE now() + make_interval(secs => p_lease_seconds) END,
        final_at = CASE WHEN d.suppress THEN now() END,
        attempts = o.attempts + CASE WHEN d.suppress OR d.hold_until IS NOT NULL THEN 0 ELSE 1 END
    FROM decided d
    WHERE o.id = d.id
    RETURNING o.id, o.msisdn, o.shortcode, o.body, o.priority, o.not_before, o.attempts,
              d.suppress, d.hold_until IS NOT NULL AS held, o.donation_id, o.service_type,
              o.compliance,
              o.billing_tlvs::text AS billing_tlvs,
              (SELECT i.received_at FROM inbound i WHERE i.id = o.in_reply_to) AS mo_received_at;
END
$$;
