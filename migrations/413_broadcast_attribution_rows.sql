-- The attribution rule of migration 340, unchanged, as a table function the planner can
-- inline into a query: the dashboard's broadcast results (gateway/store/dashboard_stats.py)
-- then ask it of every act in a join, one index range each (outbound_attribution_idx,
-- migration 410), instead of first matching every recipient to every act of the span
-- and calling the scalar function per match. The scalar `broadcast_attributed` now reads
-- this one, so the rule is still written once.
CREATE FUNCTION broadcast_attributed_rows(p_msisdn text, p_shortcode text, p_at timestamptz)
RETURNS TABLE (broadcast_id bigint)
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

CREATE OR REPLACE FUNCTION broadcast_attributed(p_msisdn text, p_shortcode text,
                                                p_at timestamptz)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT broadcast_id FROM broadcast_attributed_rows(p_msisdn, p_shortcode, p_at)
$$;
