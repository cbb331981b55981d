-- Questions by e-mail and through the public form (docs/contact-centre.md): the
-- same questions table, themes, queues and SLA as an SMS question, a channel
-- saying how it came, and the conversation that follows it.

-- A post of the public form /write, stored before the thank-you page, in the
-- transaction that opens its question (gateway/routing/). The campaign box is
-- recorded as shown: ticked or not, its wording and version. form_nonce comes
-- from the form's signed stamp: the same form posted twice finds its first row.
CREATE TABLE web_messages (
    id              bigserial   PRIMARY KEY,
    received_at     timestamptz NOT NULL,
    program         text        NOT NULL,
    language        text        NOT NULL CHECK (language IN ('fr', 'en')),
    theme           text        NOT NULL,
    body            text        NOT NULL CHECK (body <> ''),
    name            text,
    email           text        CHECK (email LIKE '%_@_%'),
    msisdn          text        CHECK (msisdn ~ '^\+[1-9][0-9]{6,14}$'),
    campaign_box    boolean     NOT NULL,
    box_wording     text,
    box_version     text,
    form_nonce      text        NOT NULL UNIQUE,
    -- what routing did with it (the same vocabulary as mail_inbound.route)
    route           text        CHECK (route IN ('knowledge_answer', 'question', 'unrouted')),
    route_reason    text,
    CHECK (email IS NOT NULL OR msisdn IS NOT NULL),
    CHECK (NOT campaign_box OR (box_wording IS NOT NULL AND box_version IS NOT NULL))
);
CREATE INDEX web_messages_email_idx ON web_messages (email) WHERE email IS NOT NULL;
CREATE INDEX web_messages_msisdn_idx ON web_messages (msisdn) WHERE msisdn IS NOT NULL;

-- The form's rate limits, per client address and per citizen address: one row
-- per accepted post and key (a keyed hash: no address is kept here), read over
-- the last hour, pruned as it is written.
CREATE TABLE web_form_hits (
    key   text        NOT NULL,
    at    timestamptz NOT NULL
);
CREATE INDEX web_form_hits_key_idx ON web_form_hits (key, at);
CREATE INDEX web_form_hits_at_idx ON web_form_hits (at);

-- Questions: SMS questions keep every rule they had (number, short code and MO
-- all set); an e-mail question names its mail and address, a form question
-- its post and an e-mail address or a mobile number (then with the short code
-- its acknowledgement goes out from).
-- round: how many times a citizen's reply reopened the question after an
-- answer; each round gets at most one answer (answers below).
ALTER TABLE questions
    ADD COLUMN channel text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'email', 'web')),
    ADD COLUMN email text CHECK (email LIKE '%_@_%'),
    ADD COLUMN name text,
    ADD COLUMN language text CHECK (language IN ('fr', 'en')),
    ADD COLUMN mail_inbound_id bigint UNIQUE REFERENCES mail_inbound (id),
    ADD COLUMN web_message_id bigint UNIQUE REFERENCES web_messages (id),
    ADD COLUMN round integer NOT NULL DEFAULT 0 CHECK (round >= 0),
    ALTER COLUMN msisdn DROP NOT NULL,
    ALTER COLUMN shortcode DROP NOT NULL,
    ALTER COLUMN inbound_id DROP NOT NULL,
    ADD CONSTRAINT questions_sms_row CHECK (channel <> 'sms' OR (
        msisdn IS NOT NULL AND shortcode IS NOT NULL AND inbound_id IS NOT NULL
        AND email IS NULL AND mail_inbound_id IS NULL AND web_message_id IS NULL)),
    ADD CONSTRAINT questions_email_row CHECK (channel <> 'email' OR (
        email IS NOT NULL AND mail_inbound_id IS NOT NULL AND language IS NOT NULL
        AND msisdn IS NULL AND inbound_id IS NULL AND web_message_id IS NULL)),
    ADD CONSTRAINT questions_web_row CHECK (channel <> 'web' OR (
        web_message_id IS NOT NULL AND language IS NOT NULL
        AND (email IS NOT NULL OR msisdn IS NOT NULL)
        AND inbound_id IS NULL AND mail_inbound_id IS NULL)),
    ADD CONSTRAINT questions_number_pair CHECK ((msisdn IS NULL) = (shortcode IS NULL));
CREATE INDEX questions_email_idx ON questions (email, id) WHERE email IS NOT NULL;

-- Answers: by SMS (the outbox row) or by e-mail (the mail_outbox row), one per
-- round of the question (a reopened question gets its next answer).
ALTER TABLE answers
    ADD COLUMN round integer NOT NULL DEFAULT 0 CHECK (round >= 0),
    ADD COLUMN channel text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'email')),
    ADD COLUMN mail_outbox_id bigint REFERENCES mail_outbox (id),
    ALTER COLUMN outbound_id DROP NOT NULL,
    DROP CONSTRAINT answers_question_id_key,
    ADD CONSTRAINT answers_question_round_key UNIQUE (question_id, round),
    ADD CONSTRAINT answers_sent_by CHECK (
        (channel = 'sms' AND outbound_id IS NOT NULL AND mail_outbox_id IS NULL)
        OR (channel = 'email' AND mail_outbox_id IS NOT NULL AND outbound_id IS NULL));

-- Later messages of a question's conversation: a citizen's reply that threads
-- onto it (In-Reply-To / References naming our mail or theirs). reopened: it
-- put an answered question back in its theme's queue.
CREATE TABLE question_messages (
    id              bigserial   PRIMARY KEY,
    question_id     bigint      NOT NULL REFERENCES questions (id),
    channel         text        NOT NULL CHECK (channel IN ('email')),
    mail_inbound_id bigint      NOT NULL UNIQUE REFERENCES mail_inbound (id),
    body            text        NOT NULL,
    received_at     timestamptz NOT NULL,
    reopened        boolean     NOT NULL
);
CREATE INDEX question_messages_question_idx ON question_messages (question_id, id);

-- Routing of stored mail (gateway/routing/worker.py): NULL routed_at is a
-- message not routed yet. The router takes one with FOR UPDATE SKIP LOCKED and
-- sets these in the transaction that acts on it (a question, a thread, an
-- acknowledgement queued), so a crash routes nothing twice and skips nothing.
-- route: never_answer (route_reason: why, from never_answer), threaded
-- (question_id: the question it joined), knowledge_answer, question
-- (question_id), unrouted (no program can take it) or failed (a fault; the
-- reason names it). route_reason also says why an answer was not queued.
ALTER TABLE mail_inbound
    ADD COLUMN routed_at timestamptz,
    ADD COLUMN route text CHECK (route IN ('never_answer', 'threaded', 'knowledge_answer',
                                           'question', 'unrouted', 'failed')),
    ADD COLUMN route_reason text,
    ADD COLUMN question_id bigint REFERENCES questions (id),
    ADD CONSTRAINT mail_inbound_routed CHECK ((routed_at IS NULL) = (route IS NULL));
CREATE INDEX mail_inbound_unrouted_idx ON mail_inbound (id) WHERE routed_at IS NULL;
