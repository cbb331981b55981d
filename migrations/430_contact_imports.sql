-- Contact import (docs/import.md): a file of contacts, its column mapping, a dry run and
-- the import itself, each run in the background in chunks that commit their progress.
--   contact_imports      one row per uploaded file: the file itself until the import is
--                        done, its mapping, the phase (dry run, then import), the leased
--                        job's state and how far it got (next_row, committed per chunk)
--   contact_import_rows  what became of every data row of the file, per phase: the
--                        dry run's report and the import's record, written by the same
--                        statement (so the two agree by construction)
CREATE TABLE contact_imports (
    id            bigserial   PRIMARY KEY,
    created_by    text        NOT NULL,
    filename      text        NOT NULL,
    file_format   text        NOT NULL CHECK (file_format IN ('csv', 'xlsx')),
    content       bytea,      -- the file; emptied once the import is done
    headers       text[]      NOT NULL,
    total_rows    integer     NOT NULL CHECK (total_rows >= 0),
    program       text        NOT NULL,   -- rows that name no program of their own
    country       text        NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    mapping       jsonb,      -- field -> header; NULL until the organizer chose
    phase         text        NOT NULL DEFAULT 'dry_run' CHECK (phase IN ('dry_run', 'import')),
    status        text        NOT NULL DEFAULT 'uploaded'
                  CHECK (status IN ('uploaded', 'queued', 'running', 'done', 'failed')),
    next_row      integer     NOT NULL DEFAULT 0,   -- data rows of this phase committed
    error         text,
    error_row     integer,
    error_column  text,
    lease_owner   text,
    lease_until   timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    started_at    timestamptz,
    finished_at   timestamptz,
    CHECK (status <> 'running' OR (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
);
CREATE INDEX contact_imports_due_idx ON contact_imports (id) WHERE status IN ('queued', 'running');

CREATE TABLE contact_import_rows (
    import_id     bigint      NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    phase         text        NOT NULL CHECK (phase IN ('dry_run', 'import')),
    row_no        integer     NOT NULL,   -- as a spreadsheet numbers it: the header is 1
    msisdn        text,                   -- E.164; NULL when the number was unusable
    outcome       text        NOT NULL CHECK (outcome IN ('new', 'updated', 'skipped')),
    effect        text        CHECK (effect IN ('subscribed', 'already_subscribed',
                                                'contact_only', 'opted_out',
                                                'kept_opted_out')),
    reason        text,       -- why skipped, or why only a contact
    column_name   text,       -- the file's header the reason is about
    duplicate_of  integer,    -- the row this one repeats
    PRIMARY KEY (import_id, phase, row_no),
    CHECK ((outcome = 'skipped') = (effect IS NULL))
);
-- One accepted row per number and phase: a later row of the number is a duplicate.
CREATE UNIQUE INDEX contact_import_rows_number_idx
    ON contact_import_rows (import_id, phase, msisdn) WHERE outcome <> 'skipped';

-- The consent ledger takes consent proven by an imported file: no MO and no call, the
-- import and its row instead, with the provenance the file gave (where the consent was
-- collected, its wording or campaign; its date is the row's occurred_at). An opt-in
-- needs both; an opt-out the file recorded needs neither.
ALTER TABLE consent_events
    DROP CONSTRAINT consent_events_source_check,
    DROP CONSTRAINT consent_events_source_facts,
    ADD COLUMN import_id       bigint REFERENCES contact_imports (id),
    ADD COLUMN import_row      integer,
    ADD COLUMN consent_source  text,
    ADD COLUMN consent_wording text,
    ADD CONSTRAINT consent_events_source_check CHECK (source IN ('sms', 'voice', 'import')),
    ADD CONSTRAINT consent_events_source_facts CHECK (CASE source
        WHEN 'sms' THEN inbound_id IS NOT NULL AND import_id IS NULL
        WHEN 'voice' THEN call_sid IS NOT NULL AND prompt_text IS NOT NULL
             AND prompt_version IS NOT NULL AND inbound_id IS NULL AND import_id IS NULL
        ELSE import_id IS NOT NULL AND import_row IS NOT NULL AND inbound_id IS NULL
             AND call_sid IS NULL
             AND (kind <> 'opt_in_confirmed'
                  OR (coalesce(consent_source, '') <> '' AND coalesce(consent_wording, '') <> ''))
    END);
CREATE INDEX consent_events_import_idx ON consent_events (import_id) WHERE import_id IS NOT NULL;

-- The view shows the provenance too (appended, as migration 300 did).
CREATE OR REPLACE VIEW consent_ledger AS
SELECT e.id, e.msisdn, e.shortcode, e.program, e.program_name, e.kind,
       e.inbound_id, e.mo_text, e.keyword, e.disclosure_text, e.disclosure_version,
       e.privacy_url, e.privacy_version, e.outbound_id, e.occurred_at, e.recorded_at,
       o.status       AS confirmation_status,
       o.submitted_at AS confirmation_submitted_at,
       r.receipt_status,
       r.receipt_at,
       r.smsc_message_ids,
       e.source, e.call_sid, e.prompt_text, e.prompt_version,
       e.import_id, e.import_row, e.consent_source, e.consent_wording
FROM consent_events e
LEFT JOIN outbound o ON o.id = e.outbound_id
LEFT JOIN LATERAL (
    SELECT CASE
             WHEN bool_and(s.status = 'DELIVRD') THEN 'DELIVRD'
             ELSE (array_agg(s.status ORDER BY s.seq)
                     FILTER (WHERE s.status NOT IN ('DELIVRD', 'submitted')))[1]
           END AS receipt_status,
           CASE WHEN bool_and(s.final_at IS NOT NULL) THEN max(s.final_at) END AS receipt_at,
           array_agg(s.smsc_message_id ORDER BY s.seq) AS smsc_message_ids
    FROM outbound_segments s
    WHERE s.outbound_id = e.outbound_id
    HAVING count(*) > 0
) r ON true;
