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

The first call opens the question (store/questions.py `open_voice`, the
questions table's one writer) in the theme's queue with the SLA the caller
was told, from when they recorded it; its body is the transcription, or the
program's `question_placeholder` text until one comes. Every later call
finds that question by the recording's id: the transcription replaces the
placeholder, and for "anything else" the classified theme moves it, unless
an expert has already claimed it (their claim is not taken away). A replay
changes nothing.

Why not routing/intake.py `take_in`, the e-mail and form path: it decides
from the words (a short text may get a knowledge-base answer, the theme is
classified from the text) and acknowledges by e-mail or SMS. A caller has
already chosen the theme on the keypad, has heard when to expect an answer,
and may have left no words yet; what they left is always a question for a
person. What is shared is the queue itself: the same row, themes, SLA,
claims and answers, written by the same store module; `ReadyRecording`
already carries the theme and the SLA.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import asyncpg

from gateway.logs import get_logger
from gateway.store import questions as questions_store
from gateway.store.questions import NewVoiceQuestion

log = get_logger(__name__)

# Why a withheld caller's question is closed as it opens: there is no number to answer
# and a voice question has no address; left open it would wait, go overdue and be
# escalated for nothing. Closed, it stays in the inbox (to be heard) with this reason.
NO_NUMBER: Final = "no_number"


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
    placeholder: str  # the body until a transcription comes (voice text question_placeholder)


async def voice_question_ready(conn: asyncpg.Connection, recording: ReadyRecording) -> int:
    """Open the recording's question, or complete it (see the module doc); its id.

    Runs in the caller's transaction, which also marks the recording ready."""
    r = recording
    question_id, opened = await questions_store.open_voice(conn, NewVoiceQuestion(
        voice_recording_id=r.id, program=r.program, theme=r.theme,
        body=r.transcription or r.placeholder, via=_via(r), language=r.language,
        asked_at=r.asked_at, sla_due=r.asked_at + timedelta(seconds=r.sla_seconds),
        msisdn=r.msisdn, shortcode=None if r.msisdn is None else r.shortcode,
        closed_reason=NO_NUMBER if r.msisdn is None else None))
    theme = r.theme
    if not opened:
        moved = await questions_store.transcribe_voice(
            conn, r.id, placeholder=r.placeholder, text=r.transcription,
            theme=r.theme if r.other and r.theme != r.chosen_theme else None)
        theme = moved[1] if moved is not None else theme
    log.info("voice_question_ready", recording_id=r.id, question_id=question_id,
             opened=opened, program=r.program, theme=theme,
             transcribed=r.transcription is not None, withheld=r.msisdn is None,
             closed_reason=NO_NUMBER if r.msisdn is None else None)
    return question_id


def _via(recording: ReadyRecording) -> str:
    """How the theme was chosen: on the keypad, or for 9 by the classifier (else fallback)."""
    if not recording.other:
        return "keypad"
    return "classified" if recording.theme != recording.chosen_theme else "fallback"
