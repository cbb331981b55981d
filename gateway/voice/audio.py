"""Which audio format a file is, from its first bytes: what the provider can play.

Why magic bytes and not the file name or the browser's content type: both
are whatever the uploader's computer says, and a file the provider cannot
play fails on the caller's phone, not here. The providers' <Play> takes WAV
and MP3; those are the two accepted (a WAV's RIFF header, an MP3's ID3 tag
or MPEG audio frame header).
"""

from __future__ import annotations

import io
import wave
from typing import Final, Literal

AudioFormat = Literal["wav", "mp3"]
CONTENT_TYPES: Final[dict[str, str]] = {"wav": "audio/wav", "mp3": "audio/mpeg"}
MIN_BYTES: Final = 64  # a WAV header alone is 44: anything shorter holds no sound


class NotAudio(ValueError):
    """The bytes are not a WAV or MP3 file; the message says what they look like."""


def audio_format(data: bytes) -> AudioFormat:
    """"wav" or "mp3", or `NotAudio` naming what was found instead."""
    if len(data) < MIN_BYTES:
        raise NotAudio(f"the file is {len(data)} bytes long: too short to hold any sound")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3" or _mpeg_frame(data[:4]):
        return "mp3"
    raise NotAudio("the file is neither WAV nor MP3 (its first bytes are "
                   f"{data[:8].hex(' ')}); export the message as .wav or .mp3")


def _mpeg_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, a known version, layer III, a usable
    bitrate and sample rate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3


def audio_seconds(data: bytes) -> int | None:
    """How long a WAV file plays, in whole seconds (rounded, as a provider's
    RecordingDuration counts them); None for an MP3 or a WAV the standard library's `wave`
    cannot read (an MP3's length needs its frames decoded: not worth a dependency for the
    call simulator, the only caller; the question page then shows no length)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as sound:
            frames, rate = sound.getnframes(), sound.getframerate()
    except (wave.Error, EOFError):
        return None
    return round(frames / rate) if rate > 0 else None
