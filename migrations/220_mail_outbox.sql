-- E-mail out (gateway/mail/, docs/email.md): every e-mail the gateway sends is
-- one row here first, written in the transaction that decided to send it
-- (an acknowledgement with the message it acknowledges, an answer with the
-- question's state), then claimed by a sender with a lease, submitted over
-- SMTP and marked. The same guarantees as the SMS outbox: nothing decided is
-- lost, a crashed sender's lease expires and another takes the row.
--
-- purpose: why it is sent, for the timeline, privacy and reports.
-- bulk: newsletters and other mail to many; they must carry an RFC 8058
--   one-click unsubscribe (unsubscribe_url), checked here.
-- message_id: ours, with angle brackets, made when the row is queued so a
--   citizen's reply (In-Reply-To / References) finds the row before or after
--   it was sent, and a resend after a crash carries the same id.
-- in_reply_to, references_ids: the threading headers of an answer.
-- dedupe_key: set by callers that may decide the same mail twice (a retried
--   transaction, a replayed form post); a second enqueue finds the first row.
-- question_id: the question an answer or acknowledgement belongs to.
-- status: queued -> sending (claimed) -> sent | failed (permanent) |
--   suppressed (never sent: unsubscribed, erased, bounced address...).
CREATE TABLE mail_outbox (
    id              bigserial   PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    purpose         text        NOT NULL
                    CHECK (purpose IN ('acknowledgement', 'answer', 'knowledge_answer',
                                       'confirmation', 'newsletter', 'notification')),
    bulk            boolean     NOT NULL DEFAULT false,
    from_address    text        NOT NULL CHECK (from_address LIKE '%_@_%'),
    from_name       text,
    to_address      text        NOT NULL CHECK (to_address LIKE '%_@_%'),
    to_name         text,
    reply_to        text,
    subject         text        NOT NULL,
    text_body       text        NOT NULL,
    html_body       text,
    message_id      text        NOT NULL UNIQUE CHECK (message_id LIKE '<%@%>'),
    in_reply_to     text,
    references_ids  text[]      NOT NULL DEFAULT '{}',
    unsubscribe_url text,
    dedupe_key      text        UNIQUE,
    question_id     bigint      REFERENCES questions (id),
    status          text        NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'suppressed')),
    not_before      timestamptz NOT NULL DEFAULT now(),
    lease_owner     text,
    lease_until     timestamptz,
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    smtp_response   text,
    sent_at         timestamptz,
    CHECK (NOT bulk OR coalesce(unsubscribe_url, '') ~ '^https?://')
);
CREATE INDEX mail_outbox_ready_idx ON mail_outbox (not_before, id) WHERE status = 'queued';
CREATE INDEX mail_outbox_lease_idx ON mail_outbox (lease_until) WHERE status = 'sending';
CREATE INDEX mail_outbox_to_idx ON mail_outbox (lower(to_address));
CREATE INDEX mail_outbox_question_idx ON mail_outbox (question_id) WHERE question_id IS NOT NULL;
