-- Indexes for the dashboard's broadcast results over 90 days (bench/bench_dashboard.py).
--
-- outbound_broadcast_sent_idx: a broadcast's sent texts in send order, with who they
-- went to. Answers "did this broadcast send anything in the window" and "when did it
-- first send" with one probe each, and lists its recipients without reading the heap
-- (gateway/store/dashboard_stats.py BROADCAST_RESULTS). Before, the window's broadcasts
-- were found by scanning every outbox row of the window.
CREATE INDEX outbound_broadcast_sent_idx ON outbound (broadcast_id, submitted_at)
    INCLUDE (msisdn, shortcode)
    WHERE broadcast_id IS NOT NULL AND submitted_at IS NOT NULL;

-- outbound_attribution_idx: the rule of migration 340 (broadcast_attributed) is "the
-- latest broadcast text sent to this number on this short code at or before the act,
-- less than 24 h before it"; in this order the answer is the first entry of one index
-- range, read without the heap, instead of every outbox row of the number
-- (outbound_msisdn_idx) filtered one by one. Replies and compliance texts stay out.
CREATE INDEX outbound_attribution_idx
    ON outbound (msisdn, shortcode, submitted_at DESC, id DESC) INCLUDE (broadcast_id)
    WHERE broadcast_id IS NOT NULL AND submitted_at IS NOT NULL;
