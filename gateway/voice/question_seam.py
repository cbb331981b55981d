"""THE seam between a recorded question and the expert queue: `voice_question_ready`.

A caller's question (menu 3) is ready for the experts once its audio is
stored here; its transcription, when the provider sends one, comes later
(or never). This function is called, inside the transaction that made the
change, each time the question becomes more complete:

* when the audio is stored (the transcription may already be there), and
* when a transcription arrives for a stored recording (`transcription` set,
  and for "anything else" `classified_theme`, the theme classifier's choice).

So it is called once or twice per recording, with the recording as it now
is; the code it leads to must therefore be idempotent, keyed by
`recording.id` (open the question the first time, add the text the second).

It does not open the question itself: the expert queue's `questions` table
is being given channels (e-mail, web, voice) by another change, and the
question-opening code of that change is what this must call. Until it is
wired, a ready recording is logged and marked (`voice_recordings.ready_at`),
so nothing a caller left is lost: every ready recording can be found again
with `WHERE status = 'stored'` and opened once the wiring lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReadyRecording:
    id: int  # voice_recordings.id: the key to open the question by, once
    recording_sid: str
    call_sid: str
    program: str
    theme: str  # the queue: the theme chosen, or for "anything else" the classified one
    chosen_theme: str | None  # what the caller pressed (the fallback theme for 9)
    other: bool  # the caller pressed 9, "anything else"
    msisdn: str | None  # the caller, E.164; None: withheld (no SMS answer possible)
    shortcode: str
    language: str
    asked_at: datetime  # when the recording was made (the SLA runs from here)
    sla_seconds: int  # the theme's response time, as the caller was told
    duration_seconds: int | None
    audio_format: str
    transcription: str | None


async def voice_question_ready(conn: asyncpg.Connection, recording: ReadyRecording) -> None:
    """Wire to the question-opening code (see the module doc); runs in the caller's
    transaction, which also marks the recording ready."""
    log.info("voice_question_ready", recording_id=recording.id, program=recording.program,
             theme=recording.theme, transcribed=recording.transcription is not None,
             withheld=recording.msisdn is None)
