-- The sender's record of its submit_sm_resps as a function, for the reason of
-- migrations 530 and 531: after `outbound` was analyzed while it held 40 rows
-- and then grew to 20,000, recording 50 submit_sm_resps read 581,981 of its
-- rows, because the cached plan joined the batch to a whole-table scan. With
-- sequential scans and hash and merge joins off while it runs, the plan
-- probes by key (docs/performance.md). What the statement does is explained
-- next to its caller in store/outbound.py.

-- store/outbound.py `mark_submitted`: the segments' SMSC ids, the messages submitted.
CREATE FUNCTION mark_submitted_rows(seg_ids bigint[], seg_seqs int2[], seg_message_ids text[],
                                    ids bigint[], segment_counts int2[], at timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
    WITH segments AS (
        INSERT INTO outbound_segments (outbound_id, seq, smsc_message_id)
        SELECT * FROM unnest(seg_ids, seg_seqs, seg_message_ids)
        ON CONFLICT (outbound_id, seq) DO UPDATE SET smsc_message_id = EXCLUDED.smsc_message_id
    )
    UPDATE outbound o SET status = 'submitted', segments = k.segments,
                          submitted_at = coalesce(at, now()),
                          lease_owner = NULL, lease_until = NULL
    FROM unnest(ids, segment_counts) AS k(id, segments)
    WHERE o.id = k.id AND o.status = 'sending';
END
$$;
