"""The expert inbox: queues by theme, a question beside its contact's timeline, claim,
release, answer, and the response time per theme.

Why experts are fenced by theme on every item (`actor.require_theme`), not
only on the list: about 200 volunteers answer, each for a few themes, and a
question's text can reveal an opinion, so an id typed by hand must not open a
question of another theme. Admins see every theme.

Viewing a question shows the contact's history beside it. An expert sees
only the threads of the contact's questions in their own themes (the
question, its acknowledgement, the answer, claims), never another theme,
the profile, donations or donor details; an admin sees the whole timeline
(services/fences.py has the matrix). The view is audited as
`contact.viewed`, like the contact page; listing the queues too (numbers
and question texts). Claims, releases and answers are audited in the same
transaction as the change. Experts see a masked number: the answer goes out
from the short code, they never need it.

Claims race safely in the store (`questions.claim`, one conditional
UPDATE): the loser gets a 409 naming who holds the question. The API
(web/api/inbox.py) and the pages (web/pages/inbox.py) both call these
functions, so they run exactly the same checks, audit rows and refusals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from gateway.engine import Rules
from gateway.logs import get_logger, mask_email, mask_msisdn
from gateway.plain_words import N_, reason, said
from gateway.routing.outgoing import Sender
from gateway.services import audit, persons
from gateway.services.actor import Actor, may_see_theme, require_theme
from gateway.services.answers import (
    MAX_EMAIL_ANSWER_CHARS,
    AnswerChannel,
    AnswerNotSendable,
    AnswerTooLong,
    answer,
    answer_channel,
    answer_segments,
    answer_wrapper,
)
from gateway.services.errors import ServiceError, conflict, invalid, not_found
from gateway.services.fences import fenced_timeline
from gateway.store import contacts, timeline, voice_recordings
from gateway.store import questions as questions_store
from gateway.store.questions import WAITING

log = get_logger("gateway.web.inbox")

MAX_ANSWER_CHARS: Final = 1600  # the segment limit is the real bound; this one stops abuse
STATUSES: Final[dict[str, tuple[str, ...]]] = {
    "waiting": WAITING, "open": ("open",), "claimed": ("claimed",),
    "escalated": ("escalated",), "answered": ("answered",), "closed": ("closed",),
}


@dataclass(frozen=True, slots=True)
class Inbox:
    """What the inbox needs of the running gateway (web/context.py `inbox_for` makes one).

    `rules` is called only by the operations that need the themes, so a keywords
    file that cannot be read refuses those alone.
    """

    pool: asyncpg.Pool
    rules: Callable[[], Rules]
    clock: Callable[[], datetime]
    max_segments: int = 6
    wake_outbox: Callable[[], None] | None = None  # an answer goes out now, not at the next poll
    mail_sender: Sender | None = None  # From of e-mail answers (None: none can be sent)


@dataclass(frozen=True, slots=True)
class ThemeInfo:
    id: str
    name: str
    sla_seconds: int | None  # None: the program's default (the fallback theme)
    leads: tuple[str, ...]
    names: Mapping[str, str] = field(default_factory=dict)  # language -> name on pages

    def name_in(self, language: str) -> str:
        """The theme's name for a page in `language`: its own there, else its `name`."""
        return self.names.get(language, self.name)


def theme_names(rules: Rules, ids: Iterable[str], language: str) -> list[str]:
    """The display names of these theme ids in `language` (an unknown id as itself)."""
    catalog = theme_catalog(rules)
    return [catalog[tid].name_in(language) if tid in catalog else tid for tid in ids]


def theme_catalog(rules: Rules) -> dict[str, ThemeInfo]:
    """Every theme of every program, in menu order; the fallback (`general`) last."""
    catalog: dict[str, ThemeInfo] = {}
    for themes in rules.themes.values():
        for tid, topic in themes.topics.items():
            catalog.setdefault(tid, ThemeInfo(tid, topic.name, topic.sla, tuple(topic.leads),
                                              dict(topic.names)))
    for themes in rules.themes.values():
        catalog.setdefault(themes.fallback, ThemeInfo(
            themes.fallback, themes.fallback.capitalize(), None, ()))
    return catalog


def shown_number(actor: Actor, msisdn: str | None) -> str | None:
    """Experts see the last four digits; staff who may open the contact see it whole."""
    if msisdn is None:
        return None
    return mask_msisdn(msisdn) if actor.role == "expert" else msisdn


def shown_email(actor: Actor, email: str | None) -> str | None:
    """Experts see the first letter and the domain (the answer goes out from the gateway)."""
    if email is None or actor.role != "expert":
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def question_json(actor: Actor, row: asyncpg.Record | dict[str, Any],
                  catalog: dict[str, ThemeInfo]) -> dict[str, Any]:
    item = dict(row)
    item["msisdn"] = shown_number(actor, item["msisdn"])
    if "email" in item:
        item["email"] = shown_email(actor, item["email"])
    info = catalog.get(item["theme"])
    item["theme_name"] = info.name if info else item["theme"]
    if "escalated_to" in item:
        item["escalated_to"] = list(item["escalated_to"] or [])
    return item


async def visible_question(conn: asyncpg.Connection, actor: Actor,
                           question_id: int) -> asyncpg.Record:
    """The question, or 404; 403 (`theme_forbidden`) for an expert of other themes."""
    row = await questions_store.get_question(conn, question_id)
    if row is None:
        raise not_found(said(N_("question %(question_id)s"), question_id=question_id))
    require_theme(actor, row["theme"])
    return row


async def list_queues(
    inbox: Inbox, actor: Actor, client: str, *, theme: str | None = None,
    program: str | None = None, status: str = "waiting", limit: int = 200,
) -> dict[str, Any]:
    """The caller's queues (an expert's themes; every theme for an admin), most urgent first."""
    catalog = theme_catalog(inbox.rules())
    if theme is not None:
        require_theme(actor, theme)
        themes: list[str] | None = [theme]
    elif actor.role == "expert":
        themes = list(actor.themes)
    else:
        themes = None
    now = inbox.clock()
    async with inbox.pool.acquire() as conn:
        rows = await questions_store.list_queues(
            conn, themes, now=now, program=program, statuses=STATUSES[status], limit=limit)
        await audit.record(conn, actor, audit.CONTACT_VIEWED, None, client=client,
                           view="inbox", themes=themes if themes is not None else "all",
                           status=status, results=len(rows))
    shown = themes if themes is not None else [
        *catalog, *sorted({r["theme"] for r in rows} - set(catalog))]
    queues = []
    for tid in shown:
        info = catalog.get(tid)
        items = [question_json(actor, r, catalog) for r in rows if r["theme"] == tid]
        queues.append({
            "theme": tid, "name": info.name if info else tid,
            "sla_seconds": info.sla_seconds if info else None,
            "count": len(items), "overdue": sum(1 for q in items if q["overdue"]),
            "questions": items})
    return {"now": now, "status": status, "queues": queues}


async def closed_questions(inbox: Inbox, actor: Actor, client: str, *, days: int = 30,
                           limit: int = 50) -> list[dict[str, Any]]:
    """Questions closed without an answer in the last `days` (an expert's themes; every
    theme for an admin), newest first, each with its reason (`closed_reason`)."""
    catalog = theme_catalog(inbox.rules())
    themes = list(actor.themes) if actor.role == "expert" else None
    since = inbox.clock() - timedelta(days=days)
    async with inbox.pool.acquire() as conn:
        rows = await questions_store.list_closed(conn, themes, since=since, limit=limit)
        if rows:
            await audit.record(conn, actor, audit.CONTACT_VIEWED, None, client=client,
                               view="inbox_closed",
                               themes=themes if themes is not None else "all",
                               results=len(rows))
    return [question_json(actor, row, catalog) for row in rows]


async def question_detail(
    inbox: Inbox, actor: Actor, client: str, question_id: int,
) -> dict[str, Any]:
    """One question, the contact's whole timeline and earlier questions; audited as a view."""
    rules = inbox.rules()
    catalog = theme_catalog(rules)
    now = inbox.clock()
    async with inbox.pool.acquire() as conn:
        row = await visible_question(conn, actor, question_id)
        msisdn, shortcode = row["msisdn"], row["shortcode"]
        contact = items = None
        if msisdn is not None:  # the number's history (an e-mail one has none yet: #6)
            contact = await contacts.get_contact(conn, msisdn, shortcode)
            asked = await questions_store.list_for_contact(conn, msisdn, shortcode)
        elif row["email"] is not None:
            asked = await questions_store.list_for_email(conn, row["email"])
        else:  # a recorded question from a withheld number: itself alone
            asked = [{**dict(row), "answered_by": None, "answer": None, "outbound_id": None}]
        asked = [q for q in asked if may_see_theme(actor, q["theme"])]
        if msisdn is not None and actor.role == "expert":  # their themes' threads (fences.py)
            items = await timeline.question_threads(conn, msisdn, shortcode,
                                                    [q["id"] for q in asked])
        elif msisdn is not None:
            items = await timeline.full_timeline(conn, msisdn, shortcode)
        recording = (await voice_recordings.get(conn, row["voice_recording_id"])
                     if row["voice_recording_id"] is not None else None)
        messages = await questions_store.list_messages(conn, question_id)
        answers = await questions_store.list_answers(conn, question_id)
        target = f"contact:{msisdn}" if msisdn is not None else f"question:{question_id}"
        await audit.record(conn, actor, audit.CONTACT_VIEWED, target,
                           client=client, view="inbox", question_id=question_id)
    question = question_json(actor, row, catalog)
    question["overdue"] = row["status"] != "answered" and row["sla_due"] < now
    mine = next((q for q in asked if q["id"] == question_id), None)
    question["answer"] = mine["answer"] if mine else None
    question["answered_by"] = mine["answered_by"] if mine else None
    channel = answer_channel(row)
    no_answer = no_answer_reason(row)
    before, after = (answer_wrapper(rules, row) if channel == "sms" and no_answer is None
                     else ("", ""))
    email_choice = None
    if channel == "sms" and msisdn is not None:
        async with inbox.pool.acquire() as conn:
            verified = await persons.verified_emails(conn, msisdn)
        email_choice = mask_email(verified[0]) if verified else None
    return {
        "question": question,
        "contact": {"msisdn": question["msisdn"], "email": question["email"],
                    "opted_out": bool(contact["opted_out"]) if contact else None},
        "timeline": fenced_timeline(actor, items or []),
        "questions": [question_json(actor, q, catalog) for q in asked],
        "messages": [dict(m) for m in messages],
        "answers": [dict(a) for a in answers],
        "answer_text": {"before": before, "after": after,
                        "max_segments": inbox.max_segments if channel == "sms" else None},
        "answer_channel": channel,
        "email_choice": email_choice,  # an SMS question's verified address, masked
        "answer_max_chars": MAX_ANSWER_CHARS if channel == "sms" and not email_choice
        else MAX_EMAIL_ANSWER_CHARS,
        "may_answer": no_answer is None and row["status"] != "answered"
        and row["claimed_by"] in (None, actor.email),
        "no_answer": no_answer,  # why no answer can go out ("number_withheld"), or None
        "recording": None if recording is None else {
            "url": f"/inbox/questions/{question_id}/recording",
            "format": recording["audio_format"], "seconds": recording["duration_seconds"],
            "transcription": recording["transcription"]},
    }


def no_answer_reason(row: asyncpg.Record) -> str | None:
    """A recorded question whose caller withheld their number cannot be answered."""
    if row["msisdn"] is None and row["email"] is None:
        return "number_withheld"
    return None


async def question_recording(inbox: Inbox, actor: Actor, client: str, question_id: int, *,
                             audited: bool = True) -> tuple[bytes, str]:
    """(audio, "wav"|"mp3") of a recorded question, fenced by theme like the question
    itself; audited as a view of the contact (`audited` False: a player's next range of
    a listening already recorded)."""
    async with inbox.pool.acquire() as conn:
        row = await visible_question(conn, actor, question_id)
        found = (await voice_recordings.audio_of(conn, row["voice_recording_id"])
                 if row["voice_recording_id"] is not None else None)
        if found is None:
            raise not_found(said(N_("the recording of question %(question_id)s"),
                                 question_id=question_id))
        if audited:
            target = (f"contact:{row['msisdn']}" if row["msisdn"] is not None
                      else f"question:{question_id}")
            await audit.record(conn, actor, audit.CONTACT_VIEWED, target, client=client,
                               view="recording", question_id=question_id)
    return found


async def _answer_route(conn: asyncpg.Connection, row: asyncpg.Record,
                        by: AnswerChannel | None) -> tuple[AnswerChannel, str | None]:
    """The channel and address an answer takes, or a refusal naming `by`."""
    if no_answer_reason(row) is not None:
        raise invalid(N_("the caller withheld their number: no answer can be sent to this "
                         "recorded question"), field="text", code="number_withheld")
    natural = answer_channel(row)
    if by is None or by == natural:
        return natural, None
    if natural == "email":
        raise invalid(N_("this question came in writing; it is answered by e-mail"), field="by")
    verified = await persons.verified_emails(conn, row["msisdn"])
    if not verified:
        raise invalid(N_("this number has no verified e-mail address; answer by SMS"), field="by")
    return "email", verified[0]


async def claim_question(
    inbox: Inbox, actor: Actor, client: str, question_id: int,
) -> dict[str, Any]:
    """Take the question; 409 naming the holder when another expert was first."""
    async with inbox.pool.acquire() as conn:
        row = await visible_question(conn, actor, question_id)
        async with conn.transaction():
            result = await questions_store.claim(conn, question_id, actor.email,
                                                 now=inbox.clock())
            if result.won:
                await audit.record(conn, actor, audit.QUESTION_CLAIMED,
                                   f"question:{question_id}", client=client,
                                   theme=row["theme"])
    if result.outcome == "not_found":
        raise not_found(said(N_("question %(question_id)s"), question_id=question_id))
    if not result.won:
        raise _held(_taken(question_id, result.outcome, result.claimed_by, result.claimed_at),
                    result.claimed_by, result.outcome)
    return {"question_id": question_id, "status": "claimed", "claimed_by": result.claimed_by,
            "claimed_at": result.claimed_at}


async def release_question(
    inbox: Inbox, actor: Actor, client: str, question_id: int,
) -> dict[str, Any]:
    """Give a question back to its queue: the expert holding it can, and an admin can
    take it back from an expert who is away (the audit entry names whose claim it was)."""
    async with inbox.pool.acquire() as conn:
        await visible_question(conn, actor, question_id)
        async with conn.transaction():
            holder: str | None = actor.email
            if actor.role == "admin":
                holder = await questions_store.release_any(conn, question_id)
                released = holder is not None
            else:
                released = await questions_store.release(conn, question_id, actor.email)
            if released:
                await audit.record(conn, actor, audit.QUESTION_RELEASED,
                                   f"question:{question_id}", client=client, holder=holder)
        current = await questions_store.get_question(conn, question_id)
    if not released:
        if current is not None and current["status"] == "claimed":
            raise _held(said(N_("question %(question_id)s is claimed by %(holder)s, not you; "
                                "only they can release it"),
                             question_id=question_id, holder=current["claimed_by"]),
                        current["claimed_by"], "claimed")
        status = current["status"] if current is not None else "gone"
        raise conflict(said(N_("question %(question_id)s is not claimed (it is %(status)s)"),
                            question_id=question_id, status=status))
    return {"question_id": question_id, "status": current["status"] if current else "open"}


async def answer_question(
    inbox: Inbox, actor: Actor, client: str, question_id: int, text: str,
    by: AnswerChannel | None = None,
) -> dict[str, Any]:
    """Send the answer through the outbox (400 naming `text` when too long or empty).

    `by`: an SMS question may be answered by e-mail when its number's person has a
    verified address (services/persons: a confirmed link, never a guess), to the
    first of them; a question that came by e-mail or the form is answered by e-mail.
    """
    rules = inbox.rules()
    async with inbox.pool.acquire() as conn:
        row = await visible_question(conn, actor, question_id)
        channel, address = await _answer_route(conn, row, by)
        try:
            async with conn.transaction():
                result = await answer(conn, rules, question_id, expert=actor.email, text=text,
                                      now=inbox.clock(), max_segments=inbox.max_segments,
                                      sender=inbox.mail_sender, channel=channel,
                                      email=address)
                if result.outcome == "answered":
                    sent: dict[str, Any] = {"outbound_id": result.outbound_id} \
                        if result.channel == "sms" else {"mail_outbox_id": result.mail_outbox_id}
                    await audit.record(conn, actor, audit.QUESTION_ANSWERED,
                                       f"question:{question_id}", client=client,
                                       theme=row["theme"], channel=result.channel, **sent)
        except AnswerTooLong as err:
            raise invalid(reason(err), field="text", code="too_long") from None
        except AnswerNotSendable as err:
            raise invalid(reason(err), field="text", code="not_sendable") from None
        except ValueError as err:  # empty once spaces are removed
            raise invalid(reason(err), field="text") from None
    if result.outcome == "not_found":
        raise not_found(said(N_("question %(question_id)s"), question_id=question_id))
    if result.outcome != "answered":
        raise _held(_taken(question_id, result.outcome, result.claimed_by, None),
                    result.claimed_by, result.outcome)
    if inbox.wake_outbox is not None and result.channel == "sms":
        inbox.wake_outbox()  # else the outbox's idle poll sends it within a second
    log.info("question_answered", question_id=question_id, theme=row["theme"],
             channel=result.channel, outbound_id=result.outbound_id,
             mail_outbox_id=result.mail_outbox_id)
    if result.channel == "email":
        return {"question_id": question_id, "status": "answered", "answered_by": actor.email,
                "channel": "email", "mail_outbox_id": result.mail_outbox_id}
    return {"question_id": question_id, "status": "answered", "answered_by": actor.email,
            "channel": "sms", "outbound_id": result.outbound_id,
            "segments": answer_segments(answer_wrapper(rules, row), text)}


async def response_time_rows(
    inbox: Inbox, actor: Actor, *, days: int = 30, program: str | None = None,
) -> dict[str, Any]:
    """Per theme the caller may see: asked, answered, waiting, overdue, median and p90."""
    catalog = theme_catalog(inbox.rules())
    now = inbox.clock()
    since = now - timedelta(days=days)
    async with inbox.pool.acquire() as conn:
        rows = await questions_store.response_times(conn, since=since, now=now, program=program)
    themes = []
    for row in rows:
        if not may_see_theme(actor, row["theme"]):
            continue
        info = catalog.get(row["theme"])
        themes.append({**dict(row), "name": info.name if info else row["theme"],
                       "sla_seconds": info.sla_seconds if info else None})
    return {"since": since, "until": now, "days": days, "themes": themes}


def _held(message: str, holder: str | None, outcome: str) -> ServiceError:
    return ServiceError(409, outcome, message, extra={"claimed_by": holder})


def _taken(question_id: int, outcome: str, holder: str | None, at: datetime | None) -> str:
    """Someone else was first: who, and when (UTC, as the API has always said it)."""
    answered = outcome == "already_answered"
    if at is None:
        return said(N_("question %(question_id)s was already answered by %(holder)s") if answered
                    else N_("question %(question_id)s was already claimed by %(holder)s"),
                    question_id=question_id, holder=holder)
    return said(N_("question %(question_id)s was already answered by %(holder)s at %(at)s UTC")
                if answered else
                N_("question %(question_id)s was already claimed by %(holder)s at %(at)s UTC"),
                question_id=question_id, holder=holder, at=f"{at:%Y-%m-%d %H:%M}")
