-- E-mail out, the sender's side (gateway/mail/sender.py, docs/email.md "E-mail out").
--
-- data_at: set, fenced by the lease, just before the attempt's DATA command;
--   cleared by every claim. A row found 'sending' with it set after its sender
--   died may already be in the provider's hands (its 250 was never recorded):
--   it is sent again, with the same Message-ID, and counted in unsure_sends.
--   Without it, the attempt never reached DATA and a resend is no duplicate.
-- unsure_sends: how many times this mail was sent again after such an attempt:
--   above 0, the recipient may have it twice (one Message-ID).
-- suppressed_reason: why a 'suppressed' row was never sent (a bounced address,
--   an unsubscribe...), decided at send time by store/mail_outbox.py
--   `suppression_reason`.
-- paced: a bulk row put back by the per-domain rate limit holds a slot booked
--   for its not_before; when claimed again it is sent without asking again.
ALTER TABLE mail_outbox
    ADD COLUMN data_at           timestamptz,
    ADD COLUMN unsure_sends      integer NOT NULL DEFAULT 0 CHECK (unsure_sends >= 0),
    ADD COLUMN suppressed_reason text,
    ADD COLUMN paced             boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT mail_outbox_suppressed_has_reason
        CHECK (status <> 'suppressed' OR suppressed_reason IS NOT NULL);

-- Mail to one person (answers, acknowledgements) before a newsletter's rows,
-- oldest first: the claim reads this index in order and stops at its limit.
DROP INDEX mail_outbox_ready_idx;
CREATE INDEX mail_outbox_due_idx ON mail_outbox (bulk, not_before, id) WHERE status = 'queued';
