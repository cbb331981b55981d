-- The contacts' name index evaluates contact_names(state) for every row an MO lane's
-- upsert writes. Since migration 550 that is a PL/pgSQL call that runs a query, even
-- for a contact with no name in its profile, or no profile at all, which is every new
-- contact a JOIN makes: 4 % of PostgreSQL's CPU in a perf profile of the MO benchmark
-- (docs/performance.md).
--
-- contact_names becomes a SQL function whose body is one expression, so PostgreSQL
-- inlines it, where the index evaluates it and where the name search calls it alike
-- (the two still match). It runs the query, profile_names (PL/pgSQL for migration
-- 550's reason), only when the profile has a field whose name ends in "name", which a
-- JSON path test answers without a query; otherwise the names are ''. It returns what
-- it did, so the index built on it stays valid.
CREATE FUNCTION profile_names(profile jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(string_agg(p.value, ' ' ORDER BY p.key), '')
            FROM jsonb_each_text(profile) AS p
            WHERE p.key LIKE '%name');
END
$$;

CREATE OR REPLACE FUNCTION contact_names(state jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(state->'profile') = 'object'
                     AND state->'profile' @? 'strict $.keyvalue() ? (@.key like_regex "name$")'
                THEN profile_names(state->'profile') ELSE '' END
$$;
