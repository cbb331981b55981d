-- The knowledge base experts search (issue 15, item 8): documents organizers
-- add per program and theme (programme chapters, speeches, brochures, FAQs),
-- every version kept, cut into passages that PostgreSQL's full-text search
-- indexes. See docs/knowledge-base.md.

-- Accents: `hopitaux` must find `hôpital`. The french stemmer alone keeps the
-- accent (hôpital -> 'hôpital', hopitaux -> 'hopital'), so each configuration
-- runs the words through `unaccent` first. unaccent ships with PostgreSQL
-- (contrib) and is a trusted extension since PostgreSQL 13: the database
-- owner may create it without being superuser; managed services list it too.
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TEXT SEARCH CONFIGURATION french_unaccent (COPY = pg_catalog.french);
ALTER TEXT SEARCH CONFIGURATION french_unaccent
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;

CREATE TEXT SEARCH CONFIGURATION english_unaccent (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION english_unaccent
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;

-- A document: what organizers see in the list. Its text lives in its versions.
-- `theme` NULL: every theme of the program. `key` (optional, unique in the
-- program) is how a keywords.yaml answer names it (`lookup: document`).
-- `url`: where citizens can read it; what an expert inserts as a link.
-- Never deleted: `active` false takes it out of search, its versions stay.
-- `language` is fixed at creation: it chooses the search configuration.
CREATE TABLE knowledge_documents (
    id              bigserial   PRIMARY KEY,
    program         text        NOT NULL CHECK (program ~ '^[a-z0-9_-]{1,64}$'),
    theme           text        CHECK (theme ~ '^[a-z0-9_-]{1,64}$'),
    key             text        CHECK (key ~ '^[a-z][a-z0-9_]{0,39}$'),
    title           text        NOT NULL CHECK (title <> '' AND length(title) <= 300),
    kind            text        NOT NULL
                    CHECK (kind IN ('programme', 'speech', 'brochure', 'faq', 'other')),
    language        text        NOT NULL CHECK (language IN ('fr', 'en')),
    url             text        CHECK (url ~ '^https?://[^[:space:]]+$' AND length(url) <= 500),
    active          boolean     NOT NULL DEFAULT true,
    current_version integer     NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX knowledge_documents_key_idx ON knowledge_documents (program, key)
    WHERE key IS NOT NULL;
CREATE INDEX knowledge_documents_program_idx ON knowledge_documents (program, theme);

-- Every upload, kept: version 1, 2, ... of a document; the newest is the
-- document's current_version. `body` is the text extracted from the file.
CREATE TABLE knowledge_versions (
    id            bigserial   PRIMARY KEY,
    document_id   bigint      NOT NULL REFERENCES knowledge_documents (id),
    version       integer     NOT NULL CHECK (version >= 1),
    body          text        NOT NULL CHECK (body <> ''),
    source_name   text        NOT NULL CHECK (source_name <> '' AND length(source_name) <= 255),
    source_format text        NOT NULL CHECK (source_format IN ('markdown', 'html', 'text', 'pdf')),
    source_bytes  integer     NOT NULL CHECK (source_bytes > 0),
    source_sha256 text        NOT NULL CHECK (source_sha256 ~ '^[0-9a-f]{64}$'),
    note          text        NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    UNIQUE (document_id, version)
);

-- A version cut into passages of a few paragraphs: what a search returns and
-- an expert quotes. `language` is the document's (a generated column may only
-- read its own row); `search` is derived from it and the text, indexed by GIN.
CREATE TABLE knowledge_passages (
    id          bigserial PRIMARY KEY,
    version_id  bigint    NOT NULL REFERENCES knowledge_versions (id),
    position    integer   NOT NULL CHECK (position >= 1),
    body        text      NOT NULL CHECK (body <> ''),
    language    text      NOT NULL CHECK (language IN ('fr', 'en')),
    search      tsvector  GENERATED ALWAYS AS (to_tsvector(
                    CASE language WHEN 'fr' THEN 'french_unaccent'::regconfig
                                  ELSE 'english_unaccent'::regconfig END, body)) STORED,
    UNIQUE (version_id, position)
);
CREATE INDEX knowledge_passages_search_idx ON knowledge_passages USING gin (search);

-- Older versions and their passages are history: they are never changed.
CREATE FUNCTION knowledge_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'add a new version of the document instead';
END
$$;
CREATE TRIGGER knowledge_versions_append_only
    BEFORE UPDATE OR DELETE ON knowledge_versions
    FOR EACH ROW EXECUTE FUNCTION knowledge_refuse_change();
CREATE TRIGGER knowledge_passages_append_only
    BEFORE UPDATE OR DELETE ON knowledge_passages
    FOR EACH ROW EXECUTE FUNCTION knowledge_refuse_change();
