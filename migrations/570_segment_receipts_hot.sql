-- A segment's final receipt becomes a HOT update (docs/outbox.md, "The indexes and what
-- each step touches").
--
-- outbound_segments had two indexes on smsc_message_id: every segment's, and the open
-- segments' (WHERE status = 'submitted'). Because `status` was in that predicate, a
-- receipt closing a segment could not be HOT: it wrote a new version on another page
-- and an entry in each of the three indexes, and each segment paid a fourth entry on
-- insert. The open index was kept (migration 500) because, without it, the receipt
-- statements' plans made on a new database read every segment. The receipt writer's
-- statement now runs in record_receipt_rows (migration 560), whose SET clauses and
-- `= ANY (ARRAY(...))` restrictions keep it a probe per receipt through the full
-- index; tests/test_plans_outlive_growth.py and tests/test_receipts_plan.py hold it
-- to that. The full index answers every lookup the open one did, the status being
-- checked on the row; a segment has one row per SMSC message id, rarely two.
DROP INDEX outbound_segments_open_idx;

-- Room on each page for the receipt's version of its rows, as on outbound (migration
-- 500): a segment is closed within a second of being written. Applies to pages filled
-- from now on.
ALTER TABLE outbound_segments SET (fillfactor = 85);
