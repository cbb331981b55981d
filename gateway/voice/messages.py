"""Menu 1, the candidate's message: organizers publish versions, callers hear the newest.

A version is an audio file (WAV or MP3, checked by its bytes, at most
GATEWAY_VOICE_MESSAGE_MAX_BYTES) or a text the provider's speech synthesis
says. Each publication commits with its audit entry (`MESSAGE_PUBLISHED`),
so the log says who put which words in the candidate's mouth and when; the
API and the organizers' page both call `publish`, so both check and record
alike. Nothing is ever replaced: the older versions stay on record.

Why the audio lives in PostgreSQL (bytea) and is served from a file cache:
the database is already backed up and shared by every gateway instance, so
a file published on one is heard through any other; serving, though, wants
a file, for aiohttp's FileResponse answers HTTP range requests (which
players and providers use) and conditional ones. `cached_file` writes a
version's bytes once per process to a temporary directory, named by their
SHA-256, so a stale file can never be served for a new version.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import asyncpg

from gateway.store import audit as audit_store
from gateway.store import voice_messages as store
from gateway.store.voice_messages import NewMessage
from gateway.voice.audio import CONTENT_TYPES, NotAudio, audio_format

MESSAGE_PUBLISHED: Final = "voice.message_published"
MAX_TEXT: Final = 4000  # the providers' limit for one <Say> is about 4096 characters
MAX_NOTE: Final = 500


class MessageRefused(ValueError):
    """A publication the line cannot use; `field` names the input at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Publisher:
    """Who publishes: written as `published_by` and in the audit log."""

    user_id: int | None
    email: str
    client: str | None = None


@dataclass(frozen=True, slots=True)
class Published:
    id: int
    program: str
    version: int
    kind: str
    audio_format: str | None
    audio_bytes: int | None


async def publish(pool: asyncpg.Pool, who: Publisher, program: str, *, now: datetime,
                  text: str | None = None, audio: bytes | None = None,
                  filename: str | None = None, note: str = "",
                  max_bytes: int) -> Published:
    """A new current version: `text` to be spoken, or `audio` (a WAV or MP3 file's bytes)."""
    message = prepared(program, text=text, audio=audio, filename=filename, note=note,
                       max_bytes=max_bytes)
    async with pool.acquire() as conn, conn.transaction():
        message_id, version = await store.insert_version(conn, message, by=who.email, now=now)
        await audit_store.insert_entry(
            conn, actor_id=who.user_id, actor=who.email, action=MESSAGE_PUBLISHED,
            target=f"voice_message:{message_id}", client=who.client,
            detail={"program": program, "version": version, "kind": message.kind,
                    "audio_format": message.audio_format, "audio_sha256": message.audio_sha256,
                    "source_name": message.source_name, "note": message.note,
                    "text": message.spoken_text})
    return Published(message_id, program, version, message.kind, message.audio_format,
                     len(audio) if audio is not None else None)


def prepared(program: str, *, text: str | None, audio: bytes | None, filename: str | None,
             note: str, max_bytes: int) -> NewMessage:
    """The row to insert, or `MessageRefused` naming the field at fault."""
    if len(note) > MAX_NOTE:
        raise MessageRefused(f"the note is longer than {MAX_NOTE} characters", "note")
    if (text is None) == (audio is None):
        raise MessageRefused("publish either a text to be spoken or an audio file", "text")
    if text is not None:
        spoken = " ".join(text.split())
        if not spoken or len(spoken) > MAX_TEXT:
            raise MessageRefused(f"the text must be 1 to {MAX_TEXT} characters", "text")
        return NewMessage(program, "text", spoken, None, None, None, None, note.strip())
    assert audio is not None
    if len(audio) > max_bytes:
        raise MessageRefused(f"the file is {len(audio)} bytes; the most is {max_bytes}", "file")
    try:
        fmt = audio_format(audio)
    except NotAudio as err:
        raise MessageRefused(str(err), "file") from None
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or None
    return NewMessage(program, "audio", None, audio, fmt, hashlib.sha256(audio).hexdigest(),
                      name, note.strip())


class AudioFiles:
    """The process's cache of published audio as files, for range requests (see above)."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._lock = asyncio.Lock()

    async def file_of(self, pool: asyncpg.Pool, message_id: int,
                      fmt: str) -> tuple[Path, str] | None:
        """(path, content type) of a version's audio; None when it has none in `fmt`."""
        async with pool.acquire() as conn:
            found = await store.audio(conn, message_id)
        if found is None or found.format != fmt:
            return None
        path = self._dir() / f"{found.sha256}.{found.format}"
        if not path.exists():
            async with self._lock:
                await asyncio.to_thread(_write_once, path, found.data)
        return path, CONTENT_TYPES[found.format]

    def _dir(self) -> Path:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="gateway-voice-"))
        return self._directory


def _write_once(path: Path, data: bytes) -> None:
    """Write then rename, so a reader never sees half a file."""
    if path.exists():
        return
    partial = path.with_suffix(path.suffix + f".{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(path)
