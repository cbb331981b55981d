"""Questions callers recorded, and the durable queue that downloads them (migration 300).

The one writer of `voice_recordings`. SQL only. The provider's callbacks
arrive in any order (the recording's, the transcription's), so each one
upserts the row by the provider's RecordingSid and fills in what it knows.
The download queue: `claim_due` leases due rows (FOR UPDATE SKIP LOCKED, so
instances share the work); a row whose lease expired (a crash mid-download)
is due again; each try ends in `store_audio`, `retry_later` or `give_up`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from gateway.store.db import affected

UPSERT_RECORDING = """
INSERT INTO voice_recordings (recording_sid, call_sid, program, theme, other, source_url,
                              duration_seconds, status, last_error, next_try_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
ON CONFLICT (recording_sid) DO UPDATE
SET source_url = coalesce(voice_recordings.source_url, EXCLUDED.source_url),
    duration_seconds = coalesce(EXCLUDED.duration_seconds, voice_recordings.duration_seconds),
    theme = coalesce(voice_recordings.theme, EXCLUDED.theme),
    other = voice_recordings.other OR EXCLUDED.other,
    status = CASE WHEN voice_recordings.status = 'waiting' THEN EXCLUDED.status
                  ELSE voice_recordings.status END,
    last_error = coalesce(EXCLUDED.last_error, voice_recordings.last_error)
RETURNING id
"""

ADD_TRANSCRIPTION = """
INSERT INTO voice_recordings (recording_sid, call_sid, program, theme, other, transcription,
                              transcription_status, classified_theme, transcribed_at,
                              next_try_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)
ON CONFLICT (recording_sid) DO UPDATE
SET transcription = EXCLUDED.transcription,
    transcription_status = EXCLUDED.transcription_status,
    classified_theme = EXCLUDED.classified_theme,
    transcribed_at = EXCLUDED.transcribed_at,
    theme = coalesce(voice_recordings.theme, EXCLUDED.theme),
    other = voice_recordings.other OR EXCLUDED.other
RETURNING id
"""

CLAIM_DUE = """
UPDATE voice_recordings r
SET lease_until = $2, attempts = r.attempts + 1
FROM (SELECT id FROM voice_recordings
      WHERE status = 'waiting' AND source_url IS NOT NULL AND next_try_at <= $1
        AND (lease_until IS NULL OR lease_until < $1)
      ORDER BY next_try_at, id
      LIMIT $3
      FOR UPDATE SKIP LOCKED) due
WHERE r.id = due.id
RETURNING r.id, r.recording_sid, r.source_url, r.attempts
"""

STORE_AUDIO = """
UPDATE voice_recordings
SET status = 'stored', audio = $2, audio_format = $3, audio_bytes = $4, stored_at = $5,
    lease_until = NULL, last_error = NULL
WHERE id = $1 AND status = 'waiting'
"""

RETRY_LATER = """
UPDATE voice_recordings SET next_try_at = $2, last_error = $3, lease_until = NULL
WHERE id = $1 AND status = 'waiting'
"""

GIVE_UP = """
UPDATE voice_recordings SET status = 'failed', last_error = $2, lease_until = NULL
WHERE id = $1 AND status = 'waiting'
"""

MARK_READY = "UPDATE voice_recordings SET ready_at = $2 WHERE id = $1"

_READ = """r.id, r.recording_sid, r.call_sid, r.program, r.theme, r.other, r.status,
    r.duration_seconds, r.audio_format, r.audio_bytes, r.stored_at, r.transcription,
    r.transcription_status, r.classified_theme, r.transcribed_at, r.attempts, r.last_error,
    r.ready_at, r.created_at, c.msisdn, c.shortcode, c.language"""

GET = f"SELECT {_READ} FROM voice_recordings r JOIN calls c USING (call_sid) WHERE r.id = $1"

GET_BY_SID = f"""
SELECT {_READ} FROM voice_recordings r JOIN calls c USING (call_sid) WHERE r.recording_sid = $1
"""

AUDIO = "SELECT audio, audio_format FROM voice_recordings WHERE id = $1"


@dataclass(frozen=True, slots=True)
class RecordingCallback:
    """What the provider's recording callback says (and the theme our link carried)."""

    recording_sid: str
    call_sid: str
    program: str
    theme: str | None
    other: bool
    source_url: str | None
    duration_seconds: int | None
    available: bool  # the provider has the audio (RecordingStatus completed)
    at: datetime


@dataclass(frozen=True, slots=True)
class Transcription:
    recording_sid: str
    call_sid: str
    program: str
    theme: str | None
    other: bool
    text: str | None
    status: str
    classified_theme: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    recording_sid: str
    source_url: str
    attempts: int  # this try included


async def record_callback(conn: asyncpg.Connection, callback: RecordingCallback) -> int:
    """Upsert the recording; a recording the provider has no audio for is `failed` at once."""
    status = "waiting" if callback.available else "failed"
    error = None if callback.available else "the provider reported no audio"
    row_id: int = await conn.fetchval(
        UPSERT_RECORDING, callback.recording_sid, callback.call_sid, callback.program,
        callback.theme, callback.other, callback.source_url, callback.duration_seconds,
        status, error, callback.at)
    return row_id


async def add_transcription(conn: asyncpg.Connection, t: Transcription) -> int:
    row_id: int = await conn.fetchval(
        ADD_TRANSCRIPTION, t.recording_sid, t.call_sid, t.program, t.theme, t.other, t.text,
        t.status, t.classified_theme, t.at)
    return row_id


async def claim_due(conn: asyncpg.Connection, now: datetime, *, lease: timedelta,
                    limit: int = 10) -> list[Due]:
    rows = await conn.fetch(CLAIM_DUE, now, now + lease, limit)
    return [Due(r["id"], r["recording_sid"], r["source_url"], r["attempts"]) for r in rows]


async def store_audio(conn: asyncpg.Connection, recording_id: int, audio: bytes, fmt: str,
                      at: datetime) -> bool:
    return affected(await conn.execute(STORE_AUDIO, recording_id, audio, fmt, len(audio),
                                       at)) == 1


async def retry_later(conn: asyncpg.Connection, recording_id: int, *, at: datetime,
                      error: str) -> None:
    await conn.execute(RETRY_LATER, recording_id, at, error[:500])


async def give_up(conn: asyncpg.Connection, recording_id: int, *, error: str) -> None:
    await conn.execute(GIVE_UP, recording_id, error[:500])


async def mark_ready(conn: asyncpg.Connection, recording_id: int, at: datetime) -> None:
    await conn.execute(MARK_READY, recording_id, at)


async def get(conn: asyncpg.Connection, recording_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(GET, recording_id)
    return row


async def get_by_sid(conn: asyncpg.Connection, recording_sid: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(GET_BY_SID, recording_sid)
    return row


async def audio_of(conn: asyncpg.Connection, recording_id: int) -> tuple[bytes, str] | None:
    row = await conn.fetchrow(AUDIO, recording_id)
    if row is None or row["audio"] is None:
        return None
    return bytes(row["audio"]), str(row["audio_format"])


# -- erasure (store/privacy.py runs it in its one transaction) ---------------------------

DELETE_OF = """
DELETE FROM voice_recordings WHERE call_sid IN (SELECT call_sid FROM calls WHERE msisdn = $1)
"""


async def delete_of(conn: asyncpg.Connection, msisdn: str) -> int:
    """The questions the number recorded: audio and transcription (before its calls go)."""
    return affected(await conn.execute(DELETE_OF, msisdn))


DELETE_OF_WITHHELD = """
DELETE FROM voice_recordings WHERE call_sid IN (
    SELECT call_sid FROM calls WHERE call_sid = ANY($1::text[]) AND msisdn IS NULL)
"""


async def delete_of_withheld(conn: asyncpg.Connection, call_sids: list[str]) -> int:
    """The recordings of these withheld-number calls (after their questions go)."""
    return affected(await conn.execute(DELETE_OF_WITHHELD, call_sids))
