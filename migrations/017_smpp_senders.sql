-- The gateway instances sending to the SMSC now, so they can split the one
-- contracted TPS between them (pipeline/tps_share.py). Each instance beats
-- every second; one silent for a few seconds no longer counts.
CREATE TABLE smpp_senders (
    instance    text        PRIMARY KEY,
    seen_at     timestamptz NOT NULL
);
