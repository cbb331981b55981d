"""One call's voice and the XML it answers, written with the `twilio` library's `VoiceResponse`.

Why the library: the provider's dialect (TwiML; TeXML is the same) has its
attribute names, escaping and verb nesting rules, and `VoiceResponse`
writes them as the provider documents them; the answers are only ever
built through it. `Line` holds what every answer of a call needs: the
program's voice rules, the language, the values its texts name, the
settings' numbers, and the public base of the links (the provider follows
them, and signs its requests with them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from gateway.engine.voice import LOCALES, VoiceRules
from gateway.engine.voice_texts import VoiceLanguage


@dataclass(frozen=True, slots=True)
class Line:
    rules: VoiceRules
    language: VoiceLanguage
    values: Mapping[str, str]  # the program's spoken values (engine/voice.py spoken_values)
    base_url: str  # Settings.voice_url(): where the provider reaches /voice
    gather_timeout: int
    speech: bool
    max_prompts: int
    record_max_seconds: int
    # Telnyx's TeXML asks for a transcription with its own attributes (`telnyx` scheme)
    provider: str = "twilio"

    def text(self, name: str, **extra: object) -> str:
        return self.rules.text(self.language, name).render({**self.values, **extra})

    def url(self, path: str, **query: object) -> str:
        """An absolute link under /voice, its query in a fixed order (it is signed as is)."""
        tail = f"?{urlencode(query)}" if query else ""
        return f"{self.base_url}{path}{tail}"

    @property
    def locale(self) -> str:
        return LOCALES[self.language]


class Answer:
    """An XML answer being written: what is said, asked, played and recorded, in order."""

    def __init__(self, line: Line) -> None:
        self.line = line
        self._response = VoiceResponse()

    def say(self, *texts: str) -> Answer:
        for text in texts:
            if text:
                self._response.say(text, **self._voice())
        return self

    def play(self, url: str) -> Answer:
        self._response.play(url)
        return self

    def ask(self, texts: Sequence[str], action: str, *, digits: int = 1) -> Answer:
        """Say `texts` while listening for a key (or a spoken number); the answer goes to
        `action`. Silence goes to the same link without a key, which is how the step
        tells a timeout from a choice (a provider runs the next verb after a silent Gather)."""
        options: dict[str, Any] = {
            "input": "dtmf speech" if self.line.speech else "dtmf", "action": action,
            "method": "POST", "timeout": self.line.gather_timeout, "num_digits": digits,
        }
        if self.line.speech:
            options.update(language=self.line.locale, speech_timeout="auto")
        gather = self._response.gather(**options)
        for text in texts:
            if text:
                gather.say(text, **self._voice())
        self._response.redirect(action, method="POST")
        return self

    def record(self, *, action: str, status_callback: str, transcription_callback: str,
               then: str) -> Answer:
        """Record the caller's question; silence (nothing recorded) goes on to `then`.

        The transcription is asked in the provider's words: TwiML's (and SignalWire's)
        `transcribe`/`transcribeCallback`, TeXML's `transcription="true"` and
        `transcriptionCallback` (Telnyx ignores the TwiML pair). The recording's URL comes
        by `recordingStatusCallback` for all three."""
        transcription: dict[str, Any] = (
            {"transcription": True, "transcription_callback": transcription_callback}
            if self.line.provider == "telnyx"
            else {"transcribe": True, "transcribe_callback": transcription_callback})
        self._response.record(
            action=action, method="POST", max_length=self.line.record_max_seconds,
            finish_on_key="#", play_beep=True, timeout=5,
            recording_status_callback=status_callback,
            recording_status_callback_method="POST", **transcription)
        self._response.redirect(then, method="POST")
        return self

    def hang_up(self) -> Answer:
        self._response.hangup()
        return self

    def xml(self) -> str:
        return str(self._response)

    def _voice(self) -> dict[str, str]:
        voice = self.line.rules.tts_voice.get(self.line.language)
        return {"language": self.line.locale, **({"voice": voice} if voice else {})}
