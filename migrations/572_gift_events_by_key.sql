-- The gift events a batch of ledger rows makes, read by key for their webhook events
-- (store/webhook_events.py `EMIT_DONATION_EVENTS`), for the reason of migrations
-- 530-533, 560 and 561 (docs/performance.md, "Plans that stay index probes as the
-- tables grow").
--
-- When a subscription wants gift events, every batch of donation ledger rows reads
-- them with their donations. With the tables analyzed while they held a few gifts,
-- that statement's plan read the whole ledger for each batch: 10,090 rows of
-- donation_events for 50 events in tests/test_plans_outlive_growth.py. Through this
-- function, with sequential and bitmap scans and hash and merge joins off while it
-- runs, it probes each table's primary key once per event. The events are found
-- first, on their own (a materialized CTE): a first version that joined them to the
-- gifts in one scan, settings or not, read the 10,090 rows too.
CREATE FUNCTION gift_events_by_ids(ids bigint[])
RETURNS TABLE (event_id bigint, kind text, refunded_cents bigint, occurred_at timestamptz,
               gift_id bigint, msisdn text, shortcode text, program text, committee text,
               method text, amount_cents bigint, currency text)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off
SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH e AS MATERIALIZED (  -- the events alone first, each found by its key
        SELECT * FROM donation_events WHERE donation_events.id = ANY (ids)
    )
    SELECT e.id, e.kind, CASE WHEN e.kind = 'refunded' THEN e.amount_cents END, e.occurred_at,
           d.id, d.msisdn, d.shortcode, d.program, d.committee, d.method, d.amount_cents,
           d.currency
    FROM e JOIN donations d ON d.id = e.donation_id;
END
$$;
