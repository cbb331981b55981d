-- The dashboard counts MOs, MTs, consent events and donations by time
-- (gateway/store/dashboard.py). BRIN indexes: these tables are appended in
-- time order, so a block-range summary finds "the last hour" for a few
-- kilobytes of index and next to no cost per insert on the MO path.
CREATE INDEX inbound_received_brin ON inbound USING brin (received_at);
CREATE INDEX outbound_submitted_brin ON outbound USING brin (submitted_at);
CREATE INDEX consent_events_occurred_brin ON consent_events USING brin (occurred_at);
-- Few rows, read by day: an ordinary index on the legal date of receipt.
CREATE INDEX donations_confirmed_idx ON donations (confirmed_at) WHERE confirmed_at IS NOT NULL;
