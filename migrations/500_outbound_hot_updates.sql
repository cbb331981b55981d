-- HOT updates on the sending path (docs/outbox.md).
--
-- An UPDATE is HOT (heap-only: no new entry in any index, no index bloat for vacuum)
-- only when no column that any index names, in its keys or in its WHERE predicate,
-- changes value, and the row's page has room for the new version. Every partial index
-- of the outbox named `status` in its predicate, so each of an MT's three updates
-- (claimed, submitted, its receipt) wrote a new entry into every index of the table.
--
-- indexed_status: the status, kept only while it is one an index selects on (waiting,
-- leased, failed); NULL once the row is submitted or otherwise ended. The predicates
-- below name it instead of `status`, so a receipt (submitted -> delivered, NULL -> NULL
-- here) changes no indexed column and is HOT. A generated column: no writer can forget
-- it. Adding it rewrites the table once (an ACCESS EXCLUSIVE lock for the rewrite).
ALTER TABLE outbound
    ADD COLUMN indexed_status text GENERATED ALWAYS AS (
        CASE WHEN status IN ('queued', 'sending', 'failed') THEN status END) STORED;
COMMENT ON COLUMN outbound.indexed_status IS
    'status while queued, sending or failed, else NULL: what the partial indexes select on, '
    'so updates between the other states stay HOT';

DROP INDEX outbound_due_idx;
CREATE INDEX outbound_due_idx ON outbound (priority, not_before, id)
    WHERE indexed_status = 'queued';
DROP INDEX outbound_lease_idx;
CREATE INDEX outbound_lease_idx ON outbound (lease_until) WHERE indexed_status = 'sending';
DROP INDEX outbound_unsure_idx;
CREATE INDEX outbound_unsure_idx ON outbound (id)
    WHERE unsure_since IS NOT NULL AND indexed_status IN ('queued', 'failed');
DROP INDEX outbound_capped_due_idx;
CREATE INDEX outbound_capped_due_idx ON outbound (not_before)
    WHERE indexed_status = 'queued' AND subject_cap IS NOT NULL;

-- One row per broadcast and number: the unique constraint indexed every row, replies
-- too (their broadcast_id is NULL), so each reply paid an entry in it on insert and on
-- each of its non-HOT updates. Partial, it holds broadcast rows only and still serves
-- every `broadcast_id = $1` read and the materialization's ON CONFLICT.
ALTER TABLE outbound DROP CONSTRAINT outbound_broadcast_msisdn_key;
CREATE UNIQUE INDEX outbound_broadcast_msisdn_key ON outbound (broadcast_id, msisdn)
    WHERE broadcast_id IS NOT NULL;

-- Room on each page for the later versions of its rows: a HOT update needs free space
-- on the page of the version it replaces. Applies to pages filled from now on.
--
-- outbound_segments keeps outbound_segments_open_idx (smsc_message_id WHERE status =
-- 'submitted'), so a segment's receipt stays non-HOT: without it, the receipt
-- statements' plans made on a new database read every segment (docs/outbox.md).
ALTER TABLE outbound SET (fillfactor = 85);
