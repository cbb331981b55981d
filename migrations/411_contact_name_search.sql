-- Contacts found by part of a name or a misspelt one ("jon smth" finds John Smith),
-- fast on a large list: pg_trgm (shipped with PostgreSQL, a trusted extension) and a
-- GIN trigram index on one expression, the contact's names.
--
-- contact_names(state): the contact's profile answers whose field ends in "name"
-- (first_name, last_name...), in field order, joined by a space: what a search by
-- name reads (gateway/store/lookups.py SEARCH_CONTACTS_BY_NAME). IMMUTABLE: it reads
-- only its argument, so it can be indexed.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE FUNCTION contact_names(state jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(p.value, ' ' ORDER BY p.key), '')
    FROM jsonb_each_text(CASE WHEN jsonb_typeof(state->'profile') = 'object'
                              THEN state->'profile' ELSE '{}'::jsonb END) AS p
    WHERE p.key LIKE '%name'
$$;

CREATE INDEX contacts_names_trgm_idx ON contacts USING gin (contact_names(state) gin_trgm_ops);
