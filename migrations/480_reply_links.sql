-- Tracked links in keyword replies (issue 18 item 5; gateway/pipeline/reply_links.py,
-- docs/links-and-results.md).
--
-- A reply's link belongs to no broadcast: `in_reply_to` is the MO the reply
-- answered (the outbox row's own `in_reply_to`), written in that MO's transaction
-- with the reply's outbox row. Every link has one origin or the other. The token,
-- the fixed destination and the click counters are the broadcast links' own.
ALTER TABLE short_links
    ALTER COLUMN broadcast_id DROP NOT NULL,
    ADD COLUMN in_reply_to bigint,
    ADD CONSTRAINT short_links_origin CHECK (broadcast_id IS NOT NULL OR in_reply_to IS NOT NULL);
CREATE INDEX short_links_reply_idx ON short_links (in_reply_to) WHERE in_reply_to IS NOT NULL;
