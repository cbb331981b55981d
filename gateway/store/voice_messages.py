"""The candidate's message on the voice line, every version kept (migration 300). SQL only.

The one writer of `voice_messages`. A version is never changed (a trigger
refuses it): the newest version of a program is the one callers hear, and
the older ones say what callers heard before. Two publications racing for a
program take its advisory lock first, so they get versions n and n+1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

MESSAGE_LOCK_SPACE: Final = 0x564D5347  # "VMSG": the advisory-lock namespace of publications

LOCK_PROGRAM = "SELECT pg_advisory_xact_lock($1, hashtext($2))"

INSERT_VERSION = """
INSERT INTO voice_messages (program, version, kind, spoken_text, audio, audio_format,
                            audio_bytes, audio_sha256, source_name, note, published_by,
                            published_at)
SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
FROM voice_messages WHERE program = $1
RETURNING id, version
"""

_COLUMNS = """id, program, version, kind, spoken_text, audio_format, audio_bytes, audio_sha256,
    source_name, note, published_by, published_at"""

CURRENT = f"""
SELECT {_COLUMNS} FROM voice_messages WHERE program = $1 ORDER BY version DESC LIMIT 1
"""

LIST_VERSIONS = f"""
SELECT {_COLUMNS} FROM voice_messages
WHERE ($1::text IS NULL OR program = $1)
ORDER BY program, version DESC
LIMIT $2
"""

AUDIO = "SELECT audio, audio_format, audio_sha256 FROM voice_messages WHERE id = $1"


@dataclass(frozen=True, slots=True)
class NewMessage:
    program: str
    kind: str  # "audio" or "text"
    spoken_text: str | None
    audio: bytes | None
    audio_format: str | None  # "wav" or "mp3"
    audio_sha256: str | None
    source_name: str | None
    note: str


@dataclass(frozen=True, slots=True)
class Audio:
    data: bytes
    format: str
    sha256: str


async def insert_version(conn: asyncpg.Connection, message: NewMessage, *, by: str,
                         now: datetime) -> tuple[int, int]:
    """(id, version) of the program's new current message; call inside a transaction."""
    await conn.execute(LOCK_PROGRAM, MESSAGE_LOCK_SPACE, message.program)
    row = await conn.fetchrow(
        INSERT_VERSION, message.program, message.kind, message.spoken_text, message.audio,
        message.audio_format, len(message.audio) if message.audio is not None else None,
        message.audio_sha256, message.source_name, message.note, by, now)
    assert row is not None
    return int(row["id"]), int(row["version"])


async def current(conn: asyncpg.Connection, program: str) -> asyncpg.Record | None:
    """The version callers hear now (without its audio), or None before the first."""
    row: asyncpg.Record | None = await conn.fetchrow(CURRENT, program)
    return row


async def list_versions(conn: asyncpg.Connection, program: str | None = None, *,
                        limit: int = 200) -> list[asyncpg.Record]:
    """Versions newest first per program, without their audio."""
    return list(await conn.fetch(LIST_VERSIONS, program, limit))


async def audio(conn: asyncpg.Connection, message_id: int) -> Audio | None:
    row = await conn.fetchrow(AUDIO, message_id)
    if row is None or row["audio"] is None:
        return None
    return Audio(bytes(row["audio"]), row["audio_format"], row["audio_sha256"])
