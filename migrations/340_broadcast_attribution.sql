-- Which broadcast a supporter's later act (a gift, a reply, a STOP) is credited to.
--
-- The rule, in one place for the dashboard (gateway/store/dashboard_stats.py) and
-- any later broadcast-results work: an act by a contact (number and short code) at
-- time `at` belongs to the broadcast whose text was SENT to that contact most
-- recently at or before `at`, provided it was sent less than 24 hours before:
--   * "sent" is the outbox row's submitted_at (accepted by the SMSC); a row never
--     sent (suppressed, cancelled, still queued) credits nothing;
--   * the window is [submitted_at, submitted_at + 24 h): an act at exactly 24 h is
--     outside it;
--   * two broadcasts both within 24 h: the later one wins (the last thing the
--     supporter read); a tie on the same instant goes to the higher outbox id;
--   * a number that was not a recipient of the broadcast is never credited to it.
-- NULL: no broadcast. STABLE, read-only, one index lookup (outbound_msisdn_idx).
CREATE FUNCTION broadcast_attributed(p_msisdn text, p_shortcode text, p_at timestamptz)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT o.broadcast_id
    FROM outbound o
    WHERE o.msisdn = p_msisdn AND o.shortcode = p_shortcode
      AND o.broadcast_id IS NOT NULL
      AND o.submitted_at <= p_at
      AND o.submitted_at > p_at - interval '24 hours'
    ORDER BY o.submitted_at DESC, o.id DESC
    LIMIT 1
$$;
