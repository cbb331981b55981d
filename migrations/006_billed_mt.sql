-- Billed MTs: a premium-rate MT is an outbox row tied to its donation. The
-- billing parameters are computed once by the billing service and stored on
-- the row, so the sender needs no aggregator configuration and a resend (never
-- automatic) would carry exactly the same charge.
ALTER TABLE outbound
    ADD COLUMN donation_id  bigint REFERENCES donations (id),
    ADD COLUMN service_type text,
    ADD COLUMN billing_tlvs jsonb;  -- {"<tag>": "<hex value>"}

-- One billed MT per donation, whoever queues it: a carrier charge is never doubled.
CREATE UNIQUE INDEX outbound_one_billed_mt_idx ON outbound (donation_id)
    WHERE donation_id IS NOT NULL;

-- A refund or dispute webhook names the PaymentIntent, not always our donation
-- (its charge may lack the metadata): find the donation by the charge's reference.
CREATE INDEX donation_events_external_ref_idx ON donation_events (external_ref)
    WHERE external_ref IS NOT NULL;
