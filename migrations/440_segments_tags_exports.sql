-- Saved segments, contact tags and contact exports (issue 18 items 4 and 7;
-- docs/segments-and-export.md).
--
-- contact_tags: a word an organizer puts on a number, by hand (the contact
--   page), by keyword (a keywords.yaml keyword's `tag:`, written in the MO's
--   own transaction) or by import. One row per (number, tag): tagging twice
--   keeps the first row. Writer: gateway/store/tags.py; erased with the number.
--
-- segments: a named audience: a program and a filter in the audience language
--   (gateway/audience.py), the one filter model the broadcasts already use.
--   Writer: gateway/store/segments.py.
--
-- broadcasts.segment_*: the segment a broadcast targets. The filter the
--   broadcast will use is copied into broadcasts.filter at creation and again
--   when it is materialized (segment_resolved_at), so the broadcast records the
--   definition it really went to; a segment deleted meanwhile leaves the copy.
--
-- contact_exports: each export (a page download or an API job for a warehouse):
--   who, what filter, which fields, how many rows; a job's state and the instance
--   running it (`owner`: the one that fails it if it stopped mid-way).
-- contact_export_files: an API job's CSV, in chunks of at most a few hundred kB, so
--   that PostgreSQL stays the only store (any instance serves the download, backups
--   and the keep-days pruning see it) and no file outlives its row.
--   Writer of both: gateway/store/exports.py.
CREATE TABLE contact_tags (
    msisdn     text        NOT NULL,
    tag        text        NOT NULL CHECK (tag ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    source     text        NOT NULL CHECK (source IN ('hand', 'keyword', 'import')),
    tagged_by  text,                         -- a staff e-mail, a keyword, an import's id
    tagged_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (msisdn, tag)
);
CREATE INDEX contact_tags_tag_idx ON contact_tags (tag, msisdn);

CREATE TABLE segments (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    program     text        NOT NULL,
    filter      text        NOT NULL DEFAULT '',
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX segments_name_key ON segments (lower(name));

ALTER TABLE broadcasts
    ADD COLUMN segment_id          bigint REFERENCES segments (id) ON DELETE SET NULL,
    ADD COLUMN segment_name        text,
    ADD COLUMN segment_resolved_at timestamptz;

CREATE TABLE contact_exports (
    id           bigserial   PRIMARY KEY,
    requested_by text        NOT NULL,
    via          text        NOT NULL CHECK (via IN ('page', 'api')),
    status       text        NOT NULL DEFAULT 'running'
                             CHECK (status IN ('running', 'done', 'failed')),
    program      text        NOT NULL,
    segment_id   bigint      REFERENCES segments (id) ON DELETE SET NULL,
    filter       text        NOT NULL DEFAULT '',
    fields       text[]      NOT NULL,
    rows         bigint,
    owner        text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at  timestamptz
);
CREATE INDEX contact_exports_running_idx ON contact_exports (created_at) WHERE status = 'running';
CREATE TABLE contact_export_files (
    export_id bigint  NOT NULL REFERENCES contact_exports (id) ON DELETE CASCADE,
    seq       integer NOT NULL CHECK (seq >= 0),
    data      bytea   NOT NULL,
    PRIMARY KEY (export_id, seq)
);
