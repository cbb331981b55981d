-- The FL/OK/MD frequency cap: at most N messages per period on one subject to
-- one number (COMPLIANCE.md). A broadcast row carries its subject (the
-- broadcast's program) and, for a recipient under capped rules, the cap and
-- the period, fixed at materialization from the quiet-hours policy. The cap is
-- applied in the claim (send time): what counts is what was actually sent.
ALTER TABLE outbound
    ADD COLUMN subject          text,
    ADD COLUMN subject_cap      smallint CHECK (subject_cap IS NULL OR subject_cap >= 1),
    ADD COLUMN subject_period_s integer  CHECK (subject_period_s IS NULL OR subject_period_s > 0),
    ADD CONSTRAINT outbound_subject_cap_period
        CHECK ((subject_cap IS NULL) = (subject_period_s IS NULL)),
    ADD CONSTRAINT outbound_subject_cap_needs_subject
        CHECK (subject_cap IS NULL OR subject IS NOT NULL);

-- The claim counts a capped row's earlier sends on its subject.
CREATE INDEX outbound_subject_sent_idx ON outbound (msisdn, subject, submitted_at)
    WHERE subject IS NOT NULL;
