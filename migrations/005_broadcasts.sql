-- Broadcasts: a campaign update to a segment of one program's subscribers.
-- Recipients are materialized into the outbox (one row per broadcast and
-- number), where the ordinary sender delivers them after the replies.

CREATE TABLE broadcasts (
    id                   bigserial   PRIMARY KEY,
    program              text        NOT NULL,
    shortcode            text        NOT NULL,
    filter               text        NOT NULL DEFAULT '',  -- the segment, as the organizer typed it
    template             text        NOT NULL,             -- {first_name|friend} placeholders
    status               text        NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'scheduled', 'running', 'paused',
                                           'cancelled', 'done')),
    scheduled_at         timestamptz,                     -- not before this (UTC)
    created_by           text        NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Materialization is resumable: the last msisdn whose batch is committed
    -- (keyset order), how many outbox rows it made, and when it finished.
    materialized_through text,
    recipients           integer     NOT NULL DEFAULT 0,
    materialized_at      timestamptz,
    CHECK (status <> 'scheduled' OR scheduled_at IS NOT NULL)
);
CREATE INDEX broadcasts_status_idx ON broadcasts (status, scheduled_at);

-- broadcast_id: NULL for replies and compliance messages.
-- not_after: when the quiet-hours window that not_before opened closes; a
-- sender that reaches the row later must defer it to the next window, not send.
-- 'cancelled': a cancelled broadcast's rows that were never sent (kept, not deleted,
-- so the broadcast's history still shows who would have received it).
ALTER TABLE outbound
    ADD COLUMN broadcast_id bigint REFERENCES broadcasts (id),
    ADD COLUMN not_after    timestamptz,
    ADD CONSTRAINT outbound_broadcast_msisdn_key UNIQUE (broadcast_id, msisdn),
    DROP CONSTRAINT outbound_status_check,
    ADD CONSTRAINT outbound_status_check
        CHECK (status IN ('queued', 'sending', 'submitted', 'delivered', 'undeliverable',
                          'rejected', 'failed', 'suppressed', 'cancelled'));

-- Live progress from the outbox itself, so a receipt or a suppression at
-- send time is counted without anyone updating a counter:
--   queued     waiting and due;      deferred   waiting for quiet hours to end
--   sending    leased by a sender;   sent       accepted by the SMSC (any later fate)
--   delivered  final DELIVRD;        failed     refused, undeliverable or given up
--   suppressed opted out before it was sent;  cancelled  never sent: the broadcast was cancelled
CREATE VIEW broadcast_progress AS
SELECT b.id, b.status, b.recipients, b.materialized_at,
       coalesce(p.queued, 0)     AS queued,
       coalesce(p.deferred, 0)   AS deferred,
       coalesce(p.sending, 0)    AS sending,
       coalesce(p.sent, 0)       AS sent,
       coalesce(p.delivered, 0)  AS delivered,
       coalesce(p.failed, 0)     AS failed,
       coalesce(p.suppressed, 0) AS suppressed,
       coalesce(p.cancelled, 0)  AS cancelled
FROM broadcasts b
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE o.status = 'queued' AND o.not_before <= now()) AS queued,
           count(*) FILTER (WHERE o.status = 'queued' AND o.not_before > now())  AS deferred,
           count(*) FILTER (WHERE o.status = 'sending')                           AS sending,
           count(*) FILTER (WHERE o.status IN ('submitted', 'delivered', 'undeliverable',
                                               'rejected'))                       AS sent,
           count(*) FILTER (WHERE o.status = 'delivered')                         AS delivered,
           count(*) FILTER (WHERE o.status IN ('undeliverable', 'rejected', 'failed'))
                                                                                  AS failed,
           count(*) FILTER (WHERE o.status = 'suppressed')                        AS suppressed,
           count(*) FILTER (WHERE o.status = 'cancelled')                         AS cancelled
    FROM outbound o
    WHERE o.broadcast_id = b.id
) p ON true;

-- The claim scans each priority's due rows in not_before order, so a million
-- broadcast rows deferred by quiet hours cost nothing to skip.
ALTER TABLE outbound ADD CONSTRAINT outbound_priority_range CHECK (priority BETWEEN 0 AND 9);
CREATE INDEX outbound_due_idx ON outbound (priority, not_before, id) WHERE status = 'queued';
DROP INDEX outbound_ready_idx;
