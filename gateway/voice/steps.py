"""The voice line's steps: one provider request in, the XML answer out, each done once.

`VoiceLine.step` is what the web routes call (gateway/web/voice_webhooks.py,
after the signature check). In one transaction it opens the call's row
(first request) or reads it (later ones: a call keeps its program and
language), reads the request into a plan (menus.py), claims the step's row
(store/calls.py) and only then acts: queues the SMS a caller asked for,
records their opt-in or their question, and writes the answer beside the
step. A replayed request finds the step claimed and gets the stored answer;
nothing is done twice.

What the caller hears, by step (texts: keywords.yaml `voice:`, engine/voice_texts.py):
  incoming    greeting (calls are recorded; where the privacy charter is), main menu
  menu        1 the candidate's message then the menu again; 2 the support menu (a
              caller whose number we have); 3 the question menu (a program with
              themes); silence or another key: said again, goodbye after the last try
  support     1 the donation link by SMS; 2 the SMS updates (keypress consent)
  question    1..8 a theme, 9 anything else: the recording prompt and <Record>
  recorded    when to expect the answer (the theme's SLA), goodbye
  unrecorded  nothing was heard: back to the menu
  recording, transcription, status: the provider's callbacks; no XML (204)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.clock import Clock
from gateway.config import Settings
from gateway.engine import Rules
from gateway.engine.themes import response_time
from gateway.engine.voice import OTHER_DIGIT, spoken_values
from gateway.engine.voice_texts import VoiceLanguage
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.phone import InvalidNumber, to_e164
from gateway.store import calls as calls_store
from gateway.store import voice_messages as messages_store
from gateway.store.calls import Call, NewCall
from gateway.voice import menus, recordings, support
from gateway.voice.line import Answer, Line
from gateway.voice.menus import BadVoiceRequest, Plan
from gateway.voice.messages import AudioFiles

log = get_logger(__name__)

CALLBACKS: Final = frozenset({"recording", "transcription", "status"})
PATHS: Final = frozenset({"incoming", "menu", "support", "question", "recorded", "unrecorded",
                          *CALLBACKS})
FINAL_STATUSES: Final = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# What providers put in From for a number the caller withheld (Twilio's spellings
# of ANONYMOUS, RESTRICTED, UNAVAILABLE, BLOCKED on a keypad, and the words).
WITHHELD: Final = frozenset({"+266696687", "+7378742833", "+86282452253", "+2562533",
                             "anonymous", "restricted", "unavailable", "unknown", "private",
                             "blocked"})
OPT_IN_SAYS: Final = {"subscribed": "opt_in_done", "confirm_requested": "opt_in_confirm",
                      "already_subscribed": "already_subscribed", "opted_out": "opted_out"}


@dataclass(frozen=True, slots=True)
class StepAnswer:
    xml: str | None  # None: a callback, answered without a body
    replay: bool


def line_program(settings: Settings, rules: Rules) -> str:
    """GATEWAY_VOICE_PROGRAM, else the program that runs GATEWAY_SHORTCODE."""
    return settings.voice_program or rules.for_shortcode(settings.shortcode).lead.id


def voice_problems(settings: Settings, rules: Rules) -> list[str]:
    """Start-up and reload check: the line's program must exist in the keywords file."""
    if not settings.voice_enabled or settings.voice_program in (None, *rules.programs):
        return []
    return [f"GATEWAY_VOICE_PROGRAM={settings.voice_program} names no program in "
            f"{settings.keywords}; its programs are {', '.join(sorted(rules.programs))}"]


def caller_of(raw: str, default_region: str) -> str | None:
    """The caller's E.164 number, or None when it was withheld or is not a number."""
    text = raw.strip()
    if not text or text.lower() in WITHHELD:
        return None
    try:
        return to_e164(text, default_region=default_region)
    except InvalidNumber:
        return None


class VoiceLine:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, rules: Callable[[], Rules], *,
                 clock: Clock, metrics: Metrics | None = None,
                 wake_outbox: Callable[[], None] | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self.rules = rules
        self.clock = clock
        self.metrics = metrics
        self.wake_outbox = wake_outbox
        self.audio = AudioFiles()
        secret = settings.privacy_hash_secret
        self._privacy_key = secret.get_secret_value().encode() if secret is not None else None

    async def step(self, path: str, query: Mapping[str, str],
                   form: Mapping[str, str]) -> StepAnswer:
        """Answer one provider request; `BadVoiceRequest` when it cannot be read."""
        if path not in PATHS:
            raise BadVoiceRequest(f"/voice/{path} is not a step of the line", "path")
        call_sid = form.get("CallSid", "").strip()
        if not call_sid or len(call_sid) > menus.MAX_SID:
            raise BadVoiceRequest("CallSid is missing or too long", "CallSid")
        rules, now = self.rules(), self.clock()
        texted = False
        async with self.pool.acquire() as conn, conn.transaction():
            call = await calls_store.open_call(conn, self._new_call(rules, call_sid, form, now))
            line = self.line_of(call, rules)
            plan = menus.plan(path, query, form, line, withheld=call.msisdn is None)
            if not await calls_store.claim_step(conn, call_sid, plan.step, kind=plan.kind,
                                                digits=plan.digits, branch=plan.branch, at=now):
                stored = await calls_store.stored_answer(conn, call_sid, plan.step)
                log.info("voice_step_replayed", step=plan.step)
                return StepAnswer(stored or None, replay=True)
            xml, texted = await self._act(conn, path, plan, call, line, form, rules, now)
            await calls_store.set_answer(conn, call_sid, plan.step, xml or "")
            abandoned = (path == "status" and plan.step.removeprefix("status.") in FINAL_STATUSES
                         and not await calls_store.reached_a_branch(conn, call_sid))
        self._count(plan, abandoned=abandoned)
        if texted and self.wake_outbox is not None:
            self.wake_outbox()
        return StepAnswer(xml, replay=False)

    def line_of(self, call: Call, rules: Rules) -> Line:
        program = call.program if call.program in rules.programs else line_program(
            self.settings, rules)
        voice = rules.voice[program]
        p = rules.programs[program]
        language: VoiceLanguage = "fr" if call.language == "fr" else "en"
        values = spoken_values(name=p.name, shortcode=call.shortcode, support=p.support,
                               frequency=p.frequency, limit=p.frequency_limit,
                               privacy_url=p.privacy_url, language=language)
        s = self.settings
        return Line(rules=voice, language=language, values=values, base_url=s.voice_url(),
                    gather_timeout=s.voice_gather_timeout, speech=s.voice_speech,
                    max_prompts=s.voice_max_prompts, record_max_seconds=s.voice_record_max_seconds,
                    provider=s.voice_signature_scheme)

    def _new_call(self, rules: Rules, call_sid: str, form: Mapping[str, str],
                  now: datetime) -> NewCall:
        program = line_program(self.settings, rules)
        p = rules.programs[program]
        shortcode = self.settings.shortcode if self.settings.shortcode in p.shortcodes \
            else p.shortcodes[0]
        return NewCall(call_sid=call_sid, program=program, shortcode=shortcode,
                       msisdn=caller_of(form.get("From", ""), self.settings.default_region),
                       language=self.settings.voice_language or rules.voice[program].language,
                       started_at=now)

    async def _act(self, conn: asyncpg.Connection, path: str, plan: Plan, call: Call,
                   line: Line, form: Mapping[str, str], rules: Rules,
                   now: datetime) -> tuple[str | None, bool]:
        """(the answer, whether a text was queued)."""
        main = menus.menu_texts(line, menus.main_options(line.rules,
                                                         withheld=call.msisdn is None))
        if path == "incoming":
            return Answer(line).say(line.text("greeting")).ask(
                main, line.url("/menu", round=1, **{"try": 1})).xml(), False
        if path in CALLBACKS:
            await self._callback(conn, path, plan, call, form, rules, now)
            return None, False
        if plan.branch is None and plan.kind in ("timeout", "invalid") and path != "unrecorded":
            return _again(line, plan, path, self._texts_of(path, line, main)), False
        if plan.branch == "goodbye":
            reason = line.text("no_input" if plan.kind == "timeout" else "invalid")
            return Answer(line).say(reason, line.text("goodbye")).hang_up().xml(), False
        answer = Answer(line)
        if path == "unrecorded":
            answer.say(line.text("not_recorded"))
        elif plan.branch == "message":
            await self._message(conn, line, call, answer)
        elif plan.branch == "support":
            return answer.ask(self._texts_of("support", line, main), line.url(
                "/support", round=plan.round, **{"try": 1})).xml(), False
        elif plan.branch == "question":
            return answer.ask(menus.question_texts(line), line.url(
                "/question", round=plan.round, **{"try": 1})).xml(), False
        elif plan.branch == "theme" and plan.topic is not None:
            return _record(line, plan), False
        elif plan.branch == "recorded":
            await recordings.record_callback(conn, call, plan.topic, form, now=now, action=True)
            return _recorded(line, plan, call).xml(), False
        elif plan.branch in ("donation_link", "sms_opt_in"):
            said = await self._support(conn, plan, call, line, rules, now)
            answer.say(line.text(said))
            return _back_to_menu(answer, line, main, plan.round).xml(), said in (
                "donation_sent", "opt_in_done", "opt_in_confirm")
        return _back_to_menu(answer, line, main, plan.round).xml(), False

    def _texts_of(self, path: str, line: Line, main: list[str]) -> list[str]:
        if path == "support":
            return menus.menu_texts(line, menus.support_options(line.rules, line.language))
        if path == "question":
            return menus.question_texts(line)
        return main

    async def _message(self, conn: asyncpg.Connection, line: Line, call: Call,
                       answer: Answer) -> None:
        current = await messages_store.current(conn, call.program)
        if current is None:
            answer.say(line.text("no_message"))
        elif current["kind"] == "audio":
            answer.say(line.text("message_intro")).play(
                line.url(f"/audio/{current['id']}.{current['audio_format']}"))
        else:
            answer.say(line.text("message_intro"), current["spoken_text"])

    async def _support(self, conn: asyncpg.Connection, plan: Plan, call: Call, line: Line,
                       rules: Rules, now: datetime) -> str:
        """The support choice done; the name of the text that says how it went."""
        assert call.msisdn is not None  # menus.plan offers support to known callers only
        caller = support.Caller(call.msisdn, call.shortcode, call.program, call.call_sid)
        if plan.branch == "donation_link":
            text = line.text("donation_link", donation_url=line.rules.donation_url or "")
            sent = await support.send_donation_link(conn, caller, text, now=now,
                                                    privacy_key=self._privacy_key)
            return "opted_out" if sent == "opted_out" else "donation_sent"
        prompt = " ".join(self._texts_of("support", line, []))
        outcome = await support.opt_in(conn, caller, rules, prompt=prompt,
                                       prompt_version=line.rules.prompt_version, now=now,
                                       privacy_key=self._privacy_key)
        return OPT_IN_SAYS[outcome]

    async def _callback(self, conn: asyncpg.Connection, path: str, plan: Plan, call: Call,
                        form: Mapping[str, str], rules: Rules, now: datetime) -> None:
        if path == "recording":
            await recordings.record_callback(conn, call, plan.topic, form, now=now,
                                             action=False)
        elif path == "transcription":
            await recordings.add_transcription(conn, call, plan.topic, form, rules, now=now)
        else:
            status = plan.step.removeprefix("status.")
            if status in FINAL_STATUSES:
                raw = form.get("CallDuration", "").strip()
                duration = int(raw) if raw.isdecimal() and len(raw) < 7 else None
                await calls_store.end_call(conn, call.call_sid, at=now, status=status,
                                           duration_seconds=duration)

    def _count(self, plan: Plan, *, abandoned: bool) -> None:
        if self.metrics is None:
            return
        if plan.kind == "start":
            self.metrics.voice_calls.inc()
        if plan.branch is not None:
            self.metrics.voice_branches.labels(branch=plan.branch).inc()
        if abandoned:
            self.metrics.voice_abandoned.inc()


def _again(line: Line, plan: Plan, path: str, texts: list[str]) -> str:
    """A silence or a key not on the menu: say so and ask again (the next try)."""
    reason = line.text("no_input" if plan.kind == "timeout" else "invalid")
    return Answer(line).say(reason).ask(texts, line.url(
        f"/{path}", round=plan.round, **{"try": plan.attempt + 1})).xml()


def _back_to_menu(answer: Answer, line: Line, main: list[str], round_: int) -> Answer:
    if round_ >= menus.MAX_ROUNDS:
        return answer.say(line.text("goodbye")).hang_up()
    return answer.say(line.text("back_to_menu")).ask(
        main, line.url("/menu", round=round_ + 1, **{"try": 1}))


def _record(line: Line, plan: Plan) -> str:
    topic = plan.topic
    assert topic is not None
    link = {"theme": topic.id, "other": int(topic.digit == OTHER_DIGIT)}
    return Answer(line).say(line.text(
        "record_prompt", theme=topic.name, max_seconds=line.record_max_seconds)).record(
        action=line.url("/recorded", round=plan.round, **link),
        status_callback=line.url("/recording", **link),
        transcription_callback=line.url("/transcription", **link),
        then=line.url("/unrecorded", round=plan.round)).xml()


def _recorded(line: Line, plan: Plan, call: Call) -> Answer:
    topic = plan.topic
    name = topic.name if topic is not None else ""
    if call.msisdn is None:
        said = line.text("recorded_withheld", theme=name)
    else:
        sla = topic.sla if topic is not None else recordings.DEFAULT_SLA
        said = line.text("recorded", theme=name, response_time=response_time(
            sla, "fr" if line.language == "fr" else "us"))
    return Answer(line).say(said, line.text("goodbye")).hang_up()
