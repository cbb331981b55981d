"""The line's menus and what one provider request means in them: pure, no I/O.

A provider request names its step by its link: /voice/menu?round=2&try=1 is
the main menu's first try in the caller's second visit to it. `plan` reads
the request into a `Plan`: the step's key (what makes the request
idempotent), what the caller did (kind, digits) and where it leads
(branch); gateway/voice/steps.py then acts on it and writes the answer.

Why the round and the try travel in the link: the step key must be the same
when the provider replays a request and different for the next prompt, and
a link is the one thing the provider sends back unchanged (and signed).
The menu is said at most `max_prompts` times in a row without a choice, and
the caller comes back to it at most MAX_ROUNDS times, so a line left open
(a call forgotten on a table) ends politely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from gateway.engine.voice import VoiceRules, VoiceTopic, spoken_choice
from gateway.voice.line import Line

MAX_ROUNDS: Final = 10
MAX_QUERY_NUMBER: Final = 99
MAX_SID: Final = 128


class BadVoiceRequest(ValueError):
    """A request the line cannot read (a missing CallSid, a link it never gave): a 400."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Option:
    digit: str
    branch: str  # message, support, question / donation_link, sms_opt_in
    text: str  # the name of the text that offers it


@dataclass(frozen=True, slots=True)
class Plan:
    step: str  # the key of call_events: one per provider request, the same on a replay
    kind: str  # start, keys, timeout, invalid, recorded, recording, transcription, status
    digits: str | None
    branch: str | None
    round: int = 1
    attempt: int = 1
    topic: VoiceTopic | None = None  # the question menu's choice, and the recording's theme


def main_options(rules: VoiceRules, *, withheld: bool) -> tuple[Option, ...]:
    """1 message; 2 support (a caller we can text); 3 question (a program with themes)."""
    options = [Option("1", "message", "option_message")]
    if not withheld:
        options.append(Option("2", "support", "option_support"))
    if rules.topics or rules.other is not None:
        options.append(Option("3", "question", "option_question"))
    return tuple(options)


def support_options(rules: VoiceRules, language: str) -> tuple[Option, ...]:
    """1 the donation link (when the program has one to send); 2 the SMS updates."""
    link = rules.texts[language]["donation_link"]  # type: ignore[index]
    options = []
    if rules.donation_url is not None or "donation_url" not in link.names:
        options.append(Option("1", "donation_link", "support_donate"))
    options.append(Option("2", "sms_opt_in", "support_updates"))
    return tuple(options)


def menu_texts(line: Line, options: tuple[Option, ...]) -> list[str]:
    return [line.text(option.text) for option in options]


def question_texts(line: Line) -> list[str]:
    texts = [line.text("theme_intro")]
    texts += [line.text("theme_choice", theme=t.name, digit=t.digit) for t in line.rules.topics]
    if line.rules.other is not None:
        texts.append(line.text("theme_other", digit=line.rules.other.digit))
    return texts


def pressed(form: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(the key chosen, what was sent): `Digits`, else a spoken number (`SpeechResult`)."""
    digits = form.get("Digits", "").strip()
    if digits:
        return digits[:1], digits[:32]
    speech = form.get("SpeechResult", "").strip()
    if speech:
        return spoken_choice(speech), speech[:32]
    return None, None


def plan(path: str, query: Mapping[str, str], form: Mapping[str, str], line: Line, *,
         withheld: bool) -> Plan:
    """What this request is, in the call; `BadVoiceRequest` for a link the line never gave."""
    if path == "incoming":
        return Plan("incoming", "start", None, None)
    if path == "status":
        status = _sid(form, "CallStatus")
        return Plan(f"status.{status}", "status", None, None)
    if path in ("recording", "transcription"):
        sid = _sid(form, "RecordingSid")
        state = form.get("RecordingStatus" if path == "recording" else "TranscriptionStatus", "")
        return Plan(f"{path}.{sid}.{state[:20]}", path, None, None, topic=_topic(query, line))
    round_ = _number(query, "round")
    if path == "recorded":
        sid = form.get("RecordingSid", "").strip()[:MAX_SID] or "none"
        return Plan(f"recorded.{round_}.{sid}", "recorded", None, "recorded", round=round_,
                    topic=_topic(query, line))
    if path == "unrecorded":
        return Plan(f"unrecorded.{round_}", "timeout", None, None, round=round_)
    attempt = _number(query, "try")
    key, sent = pressed(form)
    step = f"{path}.{round_}.{attempt}"
    if path == "question":
        topic = line.rules.topic_for(key) if key is not None else None
        if topic is not None:
            return Plan(step, "keys", sent, "theme", round_, attempt, topic)
        return _no_choice(step, key, sent, round_, attempt, line)
    if path == "menu":
        options = main_options(line.rules, withheld=withheld)
    elif path == "support":
        options = () if withheld else support_options(line.rules, line.language)
    else:
        raise BadVoiceRequest(f"/voice/{path} is not a step of the line", "path")
    chosen = next((o for o in options if o.digit == key), None)
    if chosen is not None:
        return Plan(step, "keys", sent, chosen.branch, round_, attempt)
    return _no_choice(step, key, sent, round_, attempt, line)


def _no_choice(step: str, key: str | None, sent: str | None, round_: int, attempt: int,
               line: Line) -> Plan:
    """A silence or a key not on the menu: said again, or goodbye after the last try."""
    last = attempt >= line.max_prompts
    return Plan(step, "timeout" if key is None and sent is None else "invalid", sent,
                "goodbye" if last else None, round_, attempt)


def _topic(query: Mapping[str, str], line: Line) -> VoiceTopic | None:
    theme = query.get("theme", "")
    return line.rules.topic(theme, other=query.get("other") == "1") if theme else None


def _number(query: Mapping[str, str], name: str) -> int:
    raw = query.get(name, "")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_QUERY_NUMBER:
        raise BadVoiceRequest(f"the link's {name} must be a number from 1 to "
                              f"{MAX_QUERY_NUMBER}", name)
    return int(raw)


def _sid(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value or len(value) > MAX_SID:
        raise BadVoiceRequest(f"{name} is missing or longer than {MAX_SID} characters", name)
    return value
