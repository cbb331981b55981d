-- Contact import, continued (docs/import.md): tags by import, and uploads that expire.
--   contact_imports.tags       tags put on every contact of the file, chosen with the
--                              column mapping (a column may add more per row)
--   contact_import_rows.tags   the tags an accepted row puts on its number: the dry
--                              run's "would add" and the import's record, as the rest
--   status 'expired'           an upload never imported: its file, its mapping and its
--                              dry run's rows were purged after
--                              GATEWAY_IMPORT_UPLOAD_RETENTION_HOURS
ALTER TABLE contact_imports
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
    DROP CONSTRAINT contact_imports_status_check,
    ADD CONSTRAINT contact_imports_status_check
        CHECK (status IN ('uploaded', 'queued', 'running', 'done', 'failed', 'expired')),
    ADD CONSTRAINT contact_imports_expired_purged
        CHECK (status <> 'expired' OR (content IS NULL AND mapping IS NULL));
-- The retention sweep's candidates: a file still kept, by when it was last touched.
CREATE INDEX contact_imports_kept_idx ON contact_imports (coalesce(finished_at, created_at))
    WHERE content IS NOT NULL;

ALTER TABLE contact_import_rows ADD COLUMN tags text[];
