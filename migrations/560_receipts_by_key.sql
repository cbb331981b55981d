-- The receipt writer's statement as a function, for the reason of migrations 530-532:
-- its plan must stay a probe per receipt however the tables grow after it was made
-- (docs/performance.md, "Plans that stay index probes as the tables grow").
--
-- Caught in the MO benchmark by auto_explain: a cached plan, made while 3 segments were
-- open, found the segments a batch of receipts names by reading the index of every open
-- segment whole, and that index keeps an entry for each segment delivered since the
-- last vacuum: 30,500 entries and 3.9 ms for 10 receipts. It appears in some runs
-- only; tests/test_plans_outlive_growth.py makes the case on purpose (60,120 rows read
-- for 50 receipts).
--
-- The probes do not rest on the estimates: with the tables' statistics taken while they
-- were tiny, a plan that reads a whole index (or table) and joins it to the batch looks
-- as cheap as probing it once per key, hash joins or not. So each table is restricted
-- to the batch's keys by `key = ANY (ARRAY(SELECT ...))`, which an index scan answers
-- with one probe per key whatever the planner believes the table holds (sequential and
-- bitmap scans off), and only then joined to the rows that carry the values. Those
-- joins are hash joins (nested loops off): the planner believes a batch is a few rows,
-- and a nested loop over a batch of a broadcast's 500 receipts compared every receipt
-- with every segment, which halved the broadcast benchmark's rate.
--
-- What the statement does is explained beside its caller, store/outbound.py
-- `record_receipts`. The rule that rolls segments up to their message is the
-- function rolled_up_status, which store/outbound.py's ROLL_UP uses too.

CREATE FUNCTION rolled_up_status(statuses text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN 'REJECTD' = ANY (statuses) THEN 'rejected'
        WHEN statuses && ARRAY['UNDELIV', 'EXPIRED', 'DELETED', 'UNKNOWN'] THEN 'undeliverable'
        WHEN 'DELIVRD' = ALL (statuses) THEN 'delivered'
    END
$$;

CREATE FUNCTION record_receipt_rows(message_ids text[], stats text[], error_codes text[],
                                    finals boolean[], numbers text[], text_heads text[])
RETURNS TABLE (outbound_id bigint, new_status text)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_nestloop = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH incoming AS (
        SELECT * FROM unnest(message_ids, stats, error_codes, finals, numbers, text_heads)
             WITH ORDINALITY AS k(smsc_message_id, stat, error_code, final, number, text_head, n)
    ),
    stored AS (
        INSERT INTO delivery_receipts (smsc_message_id, stat, error_code, final)
        SELECT smsc_message_id, stat, error_code, final FROM incoming ORDER BY n
    ),
    final_receipts AS (
        SELECT DISTINCT ON (smsc_message_id) smsc_message_id, stat, error_code
        FROM incoming WHERE final ORDER BY smsc_message_id, n
    ),
    closed AS (
        UPDATE outbound_segments s
        SET status = r.stat, error_code = r.error_code, final_at = now()
        FROM final_receipts r
        WHERE s.smsc_message_id = ANY (ARRAY(SELECT smsc_message_id FROM final_receipts))
          AND s.smsc_message_id = r.smsc_message_id AND s.status = 'submitted'
        RETURNING s.outbound_id, s.seq, s.status, s.smsc_message_id
    ),
    parked AS (
        INSERT INTO pending_receipts (smsc_message_id, number, text_head)
        SELECT DISTINCT ON (smsc_message_id) smsc_message_id, number, text_head FROM incoming
        WHERE final AND smsc_message_id NOT IN (SELECT smsc_message_id FROM closed)
        ORDER BY smsc_message_id, n
    ),
    all_segments AS (
        SELECT outbound_id, status FROM closed
        UNION ALL
        SELECT s.outbound_id, s.status FROM outbound_segments s
        WHERE s.outbound_id = ANY (ARRAY(SELECT outbound_id FROM closed))
          AND (s.outbound_id, s.seq) NOT IN (SELECT outbound_id, seq FROM closed)
    ),
    rolled AS (
        SELECT outbound_id, count(*) AS n, rolled_up_status(array_agg(status)) AS new_status
        FROM all_segments GROUP BY outbound_id
    )
    UPDATE outbound o SET status = rolled.new_status, final_at = now()
    FROM rolled
    WHERE o.id = ANY (ARRAY(SELECT outbound_id FROM rolled))
      AND o.id = rolled.outbound_id AND rolled.new_status IS NOT NULL
      AND o.status = 'submitted' AND rolled.n = o.segments
    RETURNING o.id, o.status;
END
$$;
