-- Notifications to staff (issue 15, item 7; gateway/notify/, docs/contact-centre.md
-- "Notifications"): the lead's notice of an SLA breach needs no table of its own
-- (it is a mail_outbox row with a dedupe key, queued with the escalation); the
-- experts' digest needs a durable watermark per user.

-- Which transaction inserted the question, as a 64-bit id that never wraps
-- (pg_current_xact_id). Why not the question's id or asked_at: ids are drawn
-- before commit, so a question with a smaller id can become visible after a
-- digest has read a larger one, and asked_at is the message's receipt time, set
-- before the row is written. A digest reads the questions of the transactions
-- that ended before its own statement's snapshot began (below its `xmin`): none
-- of those can still appear, so [last horizon, this horizon) misses nothing and
-- repeats nothing. A transaction still open is simply left for the next digest.
ALTER TABLE questions
    ADD COLUMN insert_xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX questions_insert_xid_idx ON questions (insert_xid);

-- One row per expert (made at the first digest tick that sees them, or when they
-- change the setting). `enabled`: the expert's own choice (the inbox page);
-- `watermark`: the horizon of the last digest run for them; `last_slot`: the
-- schedule time that run covered, so a second gateway, or this one after a
-- crash, finds the slot done. Both move in the transaction that queues the
-- digest (or finds nothing new), so a crash neither repeats nor skips.
CREATE TABLE expert_digests (
    user_id      bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    enabled      boolean     NOT NULL DEFAULT true,
    watermark    bigint      NOT NULL,
    last_slot    timestamptz NOT NULL,
    last_sent_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
