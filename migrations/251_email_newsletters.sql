-- Newsletters: broadcasts on the e-mail channel (issue #15 item 9, docs/email.md
-- "Newsletters"). The broadcast keeps its life as for SMS (draft, scheduled,
-- running, paused, cancelled, done; the same guarded transitions); what differs
-- is who receives it (a program's confirmed e-mail subscribers, never an
-- address that is only pending or has left) and where its rows go (mail_outbox,
-- one bulk mail per address with its own unsubscribe link). Quiet hours do not
-- apply to e-mail; the sender paces each recipient domain.
--
-- channel   'sms' (every broadcast before this) or 'email'
-- subject   the newsletter's subject; e-mail only
-- An e-mail broadcast has no short code ('') and, for now, no segment
-- (filter ''): segments read a contact's profile, which an address only has
-- once a person links it to a number.
ALTER TABLE broadcasts
    ADD COLUMN channel text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'email')),
    ADD COLUMN subject text,
    ADD CONSTRAINT broadcasts_email_shape CHECK (
        (channel = 'sms' AND subject IS NULL)
        OR (channel = 'email' AND subject <> '' AND shortcode = '' AND filter = ''));
CREATE INDEX broadcasts_email_running_idx ON broadcasts (id)
    WHERE channel = 'email' AND status = 'running' AND materialized_at IS NULL;

-- Who a newsletter was queued for, and the mail_outbox row that carries it:
-- (broadcast, address) is unique, so a materialization cut off by a crash and
-- run again queues nobody twice. Written by gateway/store/newsletters.py.
CREATE TABLE newsletter_recipients (
    broadcast_id   bigint      NOT NULL REFERENCES broadcasts (id),
    address        text        NOT NULL,
    mail_outbox_id bigint      NOT NULL UNIQUE REFERENCES mail_outbox (id),
    queued_at      timestamptz NOT NULL,
    PRIMARY KEY (broadcast_id, address)
);

-- Live progress from the outbox, as broadcast_progress does for SMS.
CREATE VIEW newsletter_progress AS
SELECT b.id, b.status, b.recipients, b.materialized_at,
       count(*) FILTER (WHERE m.status = 'queued')     AS queued,
       count(*) FILTER (WHERE m.status = 'sending')    AS sending,
       count(*) FILTER (WHERE m.status = 'sent')       AS sent,
       count(*) FILTER (WHERE m.status = 'failed')     AS failed,
       count(*) FILTER (WHERE m.status = 'suppressed') AS suppressed
FROM broadcasts b
LEFT JOIN newsletter_recipients r ON r.broadcast_id = b.id
LEFT JOIN mail_outbox m ON m.id = r.mail_outbox_id
WHERE b.channel = 'email'
GROUP BY b.id;
