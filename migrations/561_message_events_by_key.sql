-- The messages a batch of receipts settled, read by key for their webhook events
-- (store/webhook_events.py `EMIT_MESSAGES`), for the reason of migrations 530-533
-- and 560 (docs/performance.md, "Plans that stay index probes as the tables grow").
--
-- When a subscription wants message.delivered or message.failed, every batch of
-- receipts reads the messages it settled. With `outbound` analyzed while it held 40
-- rows, that statement's plan read the whole outbox for each batch: 20,040 rows for
-- 50 messages in tests/test_plans_outlive_growth.py. Read through this function, with
-- sequential and bitmap scans off while it runs, it probes the primary key once per id.
CREATE FUNCTION outbound_by_ids(ids bigint[]) RETURNS SETOF outbound
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY SELECT * FROM outbound WHERE id = ANY (ids);
END
$$;
