-- E-mail in (gateway/mail/, docs/email.md): every message the SMTP listener
-- accepts, or the IMAP poller takes from a mailbox, is one row here, written
-- and committed BEFORE the listener answers 250, so an accepted message is
-- never lost.
--
-- raw: the message exactly as received (after SMTP dot-unstuffing). It is the
--   source of truth; every other column is decoded from it by the standard
--   library's `email` package and can be decoded again.
-- dedupe_key: 'smtp:' or 'imap:' and a SHA-256 of the envelope (SMTP) or the
--   mailbox (IMAP) with the raw bytes. A sender retrying after a lost 250, or
--   a poll repeated after a crash, finds its row instead of making a second.
-- envelope_from: SMTP MAIL FROM, '' for the null sender <>; NULL over IMAP
--   (the Return-Path header stands in for it there).
-- message_id, in_reply_to, references_ids: the msg-ids with their angle
--   brackets, kept for threading replies onto questions later.
-- headers: every header in order, as [name, decoded value] pairs (RFC 2047
--   decoded).
-- kind: 'normal', 'auto_reply', 'list' (mailing-list traffic) or 'bounce';
--   signals: the headers or structure that decided it, for a human to check.
-- bounced_addresses: the failed recipients a delivery-status report names
--   (lower case); bounce_report: every recipient block it has.
-- never_answer: why nothing may ever answer this message (auto-reply, bounce,
--   list, no reply address...); NULL when it may be answered.
-- defects: what the MIME parser had to repair or could not decode; the raw
--   bytes are kept either way.
CREATE TABLE mail_inbound (
    id                bigserial   PRIMARY KEY,
    received_at       timestamptz NOT NULL DEFAULT now(),
    intake            text        NOT NULL CHECK (intake IN ('smtp', 'imap')),
    dedupe_key        text        NOT NULL UNIQUE,
    envelope_from     text,
    envelope_to       text[]      NOT NULL DEFAULT '{}',
    peer              text,
    raw               bytea       NOT NULL,
    size              integer     NOT NULL CHECK (size >= 0),
    message_id        text,
    in_reply_to       text,
    references_ids    text[]      NOT NULL DEFAULT '{}',
    subject           text,
    from_address      text,
    from_name         text,
    reply_to          text,
    to_addresses      text[]      NOT NULL DEFAULT '{}',
    cc_addresses      text[]      NOT NULL DEFAULT '{}',
    sent_at           timestamptz,
    content_type      text        NOT NULL,
    headers           jsonb       NOT NULL DEFAULT '[]',
    text_body         text,
    html_body         text,
    kind              text        NOT NULL
                      CHECK (kind IN ('normal', 'auto_reply', 'list', 'bounce')),
    signals           text[]      NOT NULL DEFAULT '{}',
    bounced_addresses text[]      NOT NULL DEFAULT '{}',
    bounce_report     jsonb       NOT NULL DEFAULT '[]',
    never_answer      text,
    defects           text[]      NOT NULL DEFAULT '{}'
);
CREATE INDEX mail_inbound_received_idx ON mail_inbound (received_at);
-- threading: a reply names our Message-ID in In-Reply-To or References
CREATE INDEX mail_inbound_message_id_idx ON mail_inbound (message_id);
-- "has this address bounced?"
CREATE INDEX mail_inbound_bounced_idx ON mail_inbound USING gin (bounced_addresses);

-- The MIME parts that are not the message's text or HTML body, in order.
-- content is NULL when the decoded part is over GATEWAY_MAIL_MAX_ATTACHMENT_BYTES
-- (`omitted` says so); it is still inside mail_inbound.raw.
CREATE TABLE mail_attachments (
    mail_id      bigint  NOT NULL REFERENCES mail_inbound (id) ON DELETE CASCADE,
    position     integer NOT NULL CHECK (position >= 0),
    filename     text,
    content_type text    NOT NULL,
    disposition  text,
    content_id   text,
    size         bigint  NOT NULL CHECK (size >= 0),
    sha256       bytea   NOT NULL,
    content      bytea,
    omitted      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (mail_id, position),
    CHECK (omitted = (content IS NULL))
);

-- IMAP intake: one row per message UID the poller has taken from a mailbox
-- folder, written in the same transaction as its mail_inbound row. The
-- highest UID under the folder's current UIDVALIDITY is where the next poll
-- starts; moved_at is set once the message was moved to the done folder, so a
-- crash between storing and moving moves it on the next poll, never stores it
-- twice. skipped says why a UID was not stored (too big): it stays in the
-- mailbox for a person to look at.
CREATE TABLE mail_imap_uids (
    mailbox     text        NOT NULL,
    uidvalidity bigint      NOT NULL,
    uid         bigint      NOT NULL,
    mail_id     bigint      REFERENCES mail_inbound (id) ON DELETE SET NULL,
    skipped     text,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    moved_at    timestamptz,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
CREATE INDEX mail_imap_uids_unmoved_idx ON mail_imap_uids (mailbox, uidvalidity)
    WHERE moved_at IS NULL AND skipped IS NULL;
