-- The promised frequency is checked again when a broadcast's rows are written.
--
-- At creation the organizer is told how many recipients a broadcast would push
-- past their program's promise; but a draft started weeks later, a broadcast
-- moved to another day, or two broadcasts created back to back (neither sees
-- the other's rows, which do not exist yet) can still break it. So the
-- promise in force at creation is kept on the broadcast, and materialization
-- skips, batch by batch, every recipient already at the limit, unless the
-- creator overrode the limit (audit-logged at creation).
--
-- frequency_max / frequency_window: the program's promise when the broadcast was
--   created; NULL for broadcasts created before this migration (not rechecked).
-- frequency_overridden: the creator sent it past the promise on purpose.
-- over_frequency: recipients skipped at materialization because one more
--   message would have broken the promise.
ALTER TABLE broadcasts
    ADD COLUMN frequency_max        integer CHECK (frequency_max > 0),
    ADD COLUMN frequency_window     interval,
    ADD COLUMN frequency_overridden boolean NOT NULL DEFAULT false,
    ADD COLUMN over_frequency       integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT broadcasts_frequency_pair
        CHECK ((frequency_max IS NULL) = (frequency_window IS NULL));

-- The progress view gains the skipped count (new columns go last).
CREATE OR REPLACE VIEW broadcast_progress AS
SELECT b.id, b.status, b.recipients, b.materialized_at,
       coalesce(p.queued, 0)     AS queued,
       coalesce(p.deferred, 0)   AS deferred,
       coalesce(p.sending, 0)    AS sending,
       coalesce(p.sent, 0)       AS sent,
       coalesce(p.delivered, 0)  AS delivered,
       coalesce(p.failed, 0)     AS failed,
       coalesce(p.suppressed, 0) AS suppressed,
       coalesce(p.cancelled, 0)  AS cancelled,
       b.over_frequency
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
