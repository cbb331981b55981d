-- The functions whose plans migrations 530-533 pin to index probes keep one plan per
-- connection (docs/performance.md, "Planned once per connection").
--
-- A PL/pgSQL function's statement is a prepared statement like any other: after five
-- runs PostgreSQL compares the generic plan's estimated cost with the average of the
-- custom plans it made for the actual arguments, and when the custom plans look
-- cheaper it keeps making one on every call. Which way it goes depends on the
-- statistics of the day. When it chose custom plans, the lane's batch read planned
-- its statement on every call: 6,758 plans for 6,757 calls, about 200 us of
-- PostgreSQL's CPU each time, more than the read itself.
--
-- These functions exist so that one plan, made of key probes, serves every call (the
-- SET clauses of migrations 530-533 make that plan a probe whatever the statistics):
-- plan_cache_mode = force_generic_plan says so. It applies while the function runs,
-- like the other SET clauses; nothing else on the connection is affected.
--
-- Not the claim (claim_outbound), which keeps PostgreSQL's own choice. Its plan
-- depends on its limit, which a generic plan does not know: with a broadcast of
-- 30,000 rows queued, its generic plan took 180 ms per claim against 6.5 ms for a
-- plan made for the call. Planning every claim instead (force_custom_plan) cost
-- PostgreSQL 0.38 s more per 1,000 MTs at 500 per second, where claims are small.
ALTER FUNCTION lane_read(text[], text[], boolean, boolean, bytea[], timestamptz)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION send_gate_check(int4, int4[], int4[], text[], text[])
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION mark_submitted_rows(bigint[], int2[], text[], bigint[], int2[], timestamptz)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION requeue_rows(bigint[], float8[], text[], boolean[], float8)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION fail_rows(bigint[], text[], boolean[], float8)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION suppress_rows(bigint[])
    SET plan_cache_mode = force_generic_plan;
