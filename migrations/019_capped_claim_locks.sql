-- The queued rows under a frequency cap that are due, for the claim to lock
-- their numbers first (store/outbound.py, LOCK_CAPPED). Only capped queued
-- rows enter it, so ordinary sends pay nothing for it.
CREATE INDEX outbound_capped_due_idx ON outbound (not_before)
    WHERE status = 'queued' AND subject_cap IS NOT NULL;
