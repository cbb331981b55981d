-- A broadcast's final results, once the window that credits replies, opt-outs
-- and gifts to it has closed (docs/links-and-results.md).
--
-- finished_at: when the broadcast became 'done' (nothing left to send), by the
--   gateway's clock. Every text was submitted at or before it, so every act
--   that can be credited to the broadcast is known 24 hours later.
-- final_results_at: when `broadcast.results_final` was emitted for it (NULL:
--   not yet). Set in the transaction that emits the event, so the event is
--   emitted once whatever crashes or how many gateways run.
--
-- Broadcasts already done before this migration get both set to their last
-- update: the event is for broadcasts that finish from now on, not a burst of
-- old results to every receiver on the day of the upgrade.
ALTER TABLE broadcasts
    ADD COLUMN finished_at      timestamptz,
    ADD COLUMN final_results_at timestamptz;

UPDATE broadcasts SET finished_at = updated_at, final_results_at = updated_at
WHERE status = 'done';

CREATE INDEX broadcasts_final_results_due ON broadcasts (finished_at)
    WHERE status = 'done' AND final_results_at IS NULL AND channel = 'sms';
