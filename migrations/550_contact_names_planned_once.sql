-- The contacts' name index (migration 411) evaluates contact_names(state) for every
-- row an MO lane's upsert writes. As a SQL function it cannot be inlined (its body
-- reads jsonb_each_text), and PostgreSQL plans a SQL function's body again in every
-- statement that calls it: 48-75 us of its CPU per lane batch, measured alternating
-- the two versions 400 times on one connection (docs/performance.md). The same body
-- in PL/pgSQL is planned once per connection. It returns what the SQL one did, so
-- the index built on it stays valid.
CREATE OR REPLACE FUNCTION contact_names(state jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(string_agg(p.value, ' ' ORDER BY p.key), '')
            FROM jsonb_each_text(CASE WHEN jsonb_typeof(state->'profile') = 'object'
                                      THEN state->'profile' ELSE '{}'::jsonb END) AS p
            WHERE p.key LIKE '%name');
END
$$;
