-- A finished export's download revoked by an admin or its requester (docs/segments-and-export.md):
-- its file's chunks are deleted and its signed link answers 410 Gone from then on; the
-- row keeps who revoked it and when, as the audit log does.
ALTER TABLE contact_exports
    ADD COLUMN revoked_at timestamptz,
    ADD COLUMN revoked_by text,
    ADD CONSTRAINT contact_exports_revoked_whole
        CHECK ((revoked_at IS NULL) = (revoked_by IS NULL));
