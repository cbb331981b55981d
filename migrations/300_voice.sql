-- The voice line (issue 16; gateway/voice/, docs/voice.md): the provider's calls,
-- what each caller pressed, the candidate's recorded message, the questions
-- callers leave, and opt-ins given by keypad in the SMS consent ledger.

-- One row per call the provider told us of (its CallSid). `msisdn`, the caller, is E.164,
-- NULL when the number was withheld or is not a phone number. `shortcode` is
-- the short code of the line's program: a known caller's call goes on the
-- timeline of (msisdn, shortcode), beside their texts. `duration_seconds` and
-- `end_status` come from the provider's status callback.
CREATE TABLE calls (
    call_sid         text        PRIMARY KEY CHECK (call_sid <> '' AND length(call_sid) <= 128),
    program          text        NOT NULL,
    shortcode        text        NOT NULL,
    msisdn           text        CHECK (msisdn ~ '^\+[1-9][0-9]{3,14}$'),
    language         text        NOT NULL CHECK (language IN ('fr', 'en')),
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    end_status       text,
    duration_seconds integer     CHECK (duration_seconds >= 0)
);
CREATE INDEX calls_msisdn_idx ON calls (msisdn, shortcode, started_at) WHERE msisdn IS NOT NULL;
CREATE INDEX calls_started_idx ON calls (started_at);

-- One row per provider request (a step of the call): what was asked, what the
-- caller did, and the XML answered. The primary key makes every webhook
-- idempotent: a replayed request finds its row and gets the same answer, and
-- nothing it did (an SMS, a consent row) is done twice, because the row is
-- inserted first, in the transaction that does it.
--   kind    start (the call came in), keys (a choice was made), timeout (no
--           key), invalid (a key that is not on the menu), recorded (the
--           caller's question was recorded), recording / transcription (the
--           provider's callbacks about it), status (the call's status callback)
--   digits  the keys pressed, as sent (DTMF or a spoken digit)
--   branch  where the step led: message, support, donation_link, sms_opt_in,
--           question, theme, goodbye... (NULL: nowhere new)
CREATE TABLE call_events (
    id           bigserial   NOT NULL UNIQUE,  -- the order rows were made (the timeline's)
    call_sid     text        NOT NULL REFERENCES calls (call_sid),
    step         text        NOT NULL CHECK (step <> '' AND length(step) <= 200),
    kind         text        NOT NULL CHECK (kind IN ('start', 'keys', 'timeout', 'invalid',
                                                      'recorded', 'recording', 'transcription',
                                                      'status')),
    digits       text        CHECK (length(digits) <= 32),
    branch       text,
    answer       text,       -- the XML answered; NULL while the step's transaction runs
    occurred_at  timestamptz NOT NULL,
    PRIMARY KEY (call_sid, step)
);
CREATE INDEX call_events_occurred_idx ON call_events USING brin (occurred_at);

-- The candidate's message (menu option 1), per program: every version kept,
-- the newest plays. Either an audio file (bytea: the database is already
-- backed up and shared by every gateway instance; a file is a few hundred
-- kilobytes to a few megabytes) or a text the provider's speech synthesis says.
CREATE TABLE voice_messages (
    id            bigserial   PRIMARY KEY,
    program       text        NOT NULL CHECK (program ~ '^[a-z0-9_-]{1,64}$'),
    version       integer     NOT NULL CHECK (version >= 1),
    kind          text        NOT NULL CHECK (kind IN ('audio', 'text')),
    spoken_text   text        CHECK (length(spoken_text) BETWEEN 1 AND 4000),
    audio         bytea,
    audio_format  text        CHECK (audio_format IN ('wav', 'mp3')),
    audio_bytes   integer     CHECK (audio_bytes > 0),
    audio_sha256  text        CHECK (audio_sha256 ~ '^[0-9a-f]{64}$'),
    source_name   text        CHECK (length(source_name) <= 255),
    note          text        NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    published_by  text        NOT NULL,
    published_at  timestamptz NOT NULL,
    UNIQUE (program, version),
    CHECK (CASE kind
             WHEN 'text' THEN spoken_text IS NOT NULL AND audio IS NULL
             ELSE spoken_text IS NULL AND audio IS NOT NULL AND audio_format IS NOT NULL
                  AND audio_bytes IS NOT NULL AND audio_sha256 IS NOT NULL
           END)
);

-- Published versions are a record of what callers heard: never changed.
CREATE FUNCTION voice_messages_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'voice_messages is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'publish a new version instead of changing an old one';
END
$$;
CREATE TRIGGER voice_messages_append_only
    BEFORE UPDATE OR DELETE ON voice_messages
    FOR EACH ROW EXECUTE FUNCTION voice_messages_refuse_change();

-- A question a caller recorded (menu option 3), and the durable queue that
-- fetches its audio from the provider: a row is written before the provider's
-- recording callback is answered, then a worker claims it (`lease_until`),
-- downloads, and stores the audio or sets the next try (`next_try_at`, with
-- backoff); a crash leaves the lease to expire and the row is claimed again.
--   theme        the program's theme the caller chose; `other` true when they
--                pressed "other" (theme is then the program's fallback theme,
--                and `classified_theme` what the classifier made of the transcription)
--   status       waiting (to download), stored (audio here), failed (given up
--                or the provider had no audio)
--   ready_at     the last time the question seam was told (voice/question_seam.py)
CREATE TABLE voice_recordings (
    id                   bigserial   PRIMARY KEY,
    recording_sid        text        NOT NULL UNIQUE CHECK (recording_sid <> ''
                                                             AND length(recording_sid) <= 128),
    call_sid             text        NOT NULL REFERENCES calls (call_sid),
    program              text        NOT NULL,
    theme                text,
    other                boolean     NOT NULL DEFAULT false,
    source_url           text        CHECK (source_url ~ '^https?://'),
    duration_seconds     integer     CHECK (duration_seconds >= 0),
    status               text        NOT NULL DEFAULT 'waiting'
                         CHECK (status IN ('waiting', 'stored', 'failed')),
    attempts             integer     NOT NULL DEFAULT 0,
    next_try_at          timestamptz NOT NULL,
    lease_until          timestamptz,
    last_error           text,
    audio                bytea,
    audio_format         text        CHECK (audio_format IN ('wav', 'mp3')),
    audio_bytes          integer,
    stored_at            timestamptz,
    transcription        text,
    transcription_status text,
    transcribed_at       timestamptz,
    classified_theme     text,
    ready_at             timestamptz,
    created_at           timestamptz NOT NULL,
    CHECK (status <> 'stored' OR (audio IS NOT NULL AND audio_format IS NOT NULL))
);
CREATE INDEX voice_recordings_due_idx ON voice_recordings (next_try_at) WHERE status = 'waiting';
CREATE INDEX voice_recordings_call_idx ON voice_recordings (call_sid);

-- The SMS consent ledger takes opt-ins given by keypad on the voice line. Such a
-- row has no MO: it names the call and carries the spoken prompt the caller
-- answered, word for word, with its version (the sms rows' `mo_text` and
-- `keyword` are then '' and the key pressed). The CHECK keeps every sms row as
-- it was (an MO) and every voice row complete.
ALTER TABLE consent_events
    ALTER COLUMN inbound_id DROP NOT NULL,
    ADD COLUMN source         text NOT NULL DEFAULT 'sms' CHECK (source IN ('sms', 'voice')),
    ADD COLUMN call_sid       text,
    ADD COLUMN prompt_text    text,
    ADD COLUMN prompt_version text,
    ADD CONSTRAINT consent_events_source_facts CHECK (CASE source
        WHEN 'sms' THEN inbound_id IS NOT NULL
        ELSE call_sid IS NOT NULL AND prompt_text IS NOT NULL AND prompt_version IS NOT NULL
             AND inbound_id IS NULL
    END);

-- The view shows the new columns too (appended: CREATE OR REPLACE VIEW keeps
-- the existing ones in place).
CREATE OR REPLACE VIEW consent_ledger AS
SELECT e.id, e.msisdn, e.shortcode, e.program, e.program_name, e.kind,
       e.inbound_id, e.mo_text, e.keyword, e.disclosure_text, e.disclosure_version,
       e.privacy_url, e.privacy_version, e.outbound_id, e.occurred_at, e.recorded_at,
       o.status       AS confirmation_status,
       o.submitted_at AS confirmation_submitted_at,
       r.receipt_status,
       r.receipt_at,
       r.smsc_message_ids,
       e.source, e.call_sid, e.prompt_text, e.prompt_version
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
