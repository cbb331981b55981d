-- Sends whose outcome is unknown: the process died, or the link dropped or
-- timed out, after a submit_sm went out and before its submit_sm_resp was
-- recorded. The SMSC may have taken the message. Such a row waits, queued,
-- until `not_before`; meanwhile a delivery receipt from its number whose id
-- we never recorded and whose text matches proves the SMSC took it, and the
-- row is settled from that receipt instead of being sent again. A billed MT
-- is never resent: it is failed as billed_unknown at once, and its receipt,
-- if one comes, settles it (and so the donation) all the same.
ALTER TABLE outbound ADD COLUMN unsure_since timestamptz;
COMMENT ON COLUMN outbound.unsure_since IS
    'the earliest moment an unconfirmed copy of this row may have reached the SMSC';
CREATE INDEX outbound_unsure_idx ON outbound (id)
    WHERE unsure_since IS NOT NULL AND status IN ('queued', 'failed');

-- What a parked receipt says about its message: the number it went to (the
-- receipt's source_addr, exactly as our submit_sm's destination_addr: a
-- supporter's number in SMPP form, so personal data, erased with the number)
-- and the start of its text ("text:" in the SMPP 3.4 appendix-B layout).
-- Only receipts whose id matched nothing are parked.
ALTER TABLE pending_receipts ADD COLUMN number text, ADD COLUMN text_head text;
CREATE INDEX pending_receipts_number_idx ON pending_receipts (number) WHERE number IS NOT NULL;
