"""An expert's answer, wrapped in its theme's text and queued; questions past their SLA.

Why these rules live here and not in the store: what an answer may be (not
empty, at most `max_segments` SMS segments once wrapped, or
`MAX_EMAIL_ANSWER_CHARS` by e-mail), who may give it (the expert holding the
claim, or anyone while the question is open), the channel it goes by, and
the text that goes out (the theme's `answer` template around it, SMS or
e-mail) are the contact centre's rules. The store locks the question, queues
the MT (store/outbound.py, the outbox's one writer) or the e-mail
(store/mail_outbox.py) and records the answer, all in one transaction.

The channel (`answer_channel`): a question with an e-mail address (asked by
e-mail, or on the form with an address) is answered by e-mail, threaded on
the citizen's latest message (else on our acknowledgement), so a long,
argued answer reads as one conversation; any other by SMS, as before.
`answer` takes the channel and the address as arguments, so an SMS question
of a person with a verified address (services/persons) can be answered by
e-mail (services/inbox.py offers it).

`escalate` is the periodic job (app.py runs it) that hands questions past
their SLA to the theme's leads; they stay claimable. Each lead's notice
(gateway/notify/sla_breach.py) is queued in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import asyncpg

from gateway.engine import Rules
from gateway.engine.written import language_of
from gateway.logs import get_logger, mask_email
from gateway.notify.sla_breach import queue_breach_notices
from gateway.notify.staff_mail import StaffMail
from gateway.plain_words import N_, said
from gateway.routing import outgoing
from gateway.routing.outgoing import Recipient, Sender
from gateway.smstext import segment_count
from gateway.store import outbound as outbound_store
from gateway.store import questions as questions_store

log = get_logger("gateway.contact_centre")

_SPLIT: Final = "\x00"  # stands in for the answer when the theme's wrapper is rendered

MAX_EMAIL_ANSWER_CHARS: Final = 20_000

AnswerOutcome = Literal["answered", "claimed_by_other", "already_answered", "not_found"]
AnswerChannel = Literal["sms", "email"]


class AnswerTooLong(ValueError):
    """The answer would cost more SMS segments (or e-mail characters) than allowed."""


class AnswerNotSendable(ValueError):
    """The answer's channel cannot carry it (no From address, no address to write to)."""


@dataclass(frozen=True, slots=True)
class AnswerResult:
    outcome: AnswerOutcome
    question_id: int
    outbound_id: int | None = None
    claimed_by: str | None = None  # who holds it, when refused
    mail_outbox_id: int | None = None  # an answer by e-mail
    channel: AnswerChannel | None = None


def answer_channel(question: asyncpg.Record) -> AnswerChannel:
    """By e-mail to a question that has an address, else by SMS."""
    return "email" if question["email"] is not None else "sms"


def wrapped(rules: Rules, question: asyncpg.Record, answer: str) -> str:
    """The SMS that goes out: `answer` in its theme's `answer` text (as is without themes)."""
    themes = rules.themes.get(question["program"])
    if themes is None:
        return answer
    program = rules.programs[question["program"]]
    topic = themes.topics.get(question["theme"])
    return themes.answer.render({
        **program.variables(question["shortcode"]), "answer": answer,
        "theme": topic.name if topic else question["theme"]})


def answer_wrapper(rules: Rules, question: asyncpg.Record) -> tuple[str, str]:
    """The theme's answer text before and after {answer}: what the counter adds to a draft."""
    if rules.themes.get(question["program"]) is None:
        return "", ""
    before, _, after = wrapped(rules, question, _SPLIT).partition(_SPLIT)
    return before, after


def answer_segments(wrapper: tuple[str, str], text: str) -> int:
    """SMS segments the answer will cost, wrapped as it goes out (spaces collapsed)."""
    return segment_count(wrapper[0] + " ".join(text.split()) + wrapper[1])


async def answer(
    conn: asyncpg.Connection, rules: Rules, question_id: int, *, expert: str, text: str,
    now: datetime, max_segments: int = 6, sender: Sender | None = None,
    channel: AnswerChannel | None = None, email: str | None = None,
) -> AnswerResult:
    """Queue `expert`'s answer to the asker and record who answered.

    `channel` None: `answer_channel`'s; `email`: the address an e-mail answer
    goes to (default: the question's). A question still open (or escalated)
    is claimed and answered at once; one claimed by another expert, or
    already answered, is refused as a value. Raises `AnswerTooLong` (shorten
    it), `AnswerNotSendable` (no From address or no address) or ValueError
    (empty).
    """
    question = await questions_store.get_question(conn, question_id)
    if question is None:
        return AnswerResult("not_found", question_id)
    by = channel or answer_channel(question)
    body = _checked_body(rules, question, text, by, max_segments)
    address = email or question["email"]
    if by == "email" and (sender is None or address is None):
        raise AnswerNotSendable(
            N_("this answer goes by e-mail, and the gateway has no From address "
               "(GATEWAY_MAIL_FROM_ADDRESS)") if sender is None else
            N_("this answer goes by e-mail, and the question has no e-mail address"))
    async with conn.transaction():
        row = await questions_store.lock_question(conn, question_id)
        if row is None:
            return AnswerResult("not_found", question_id)
        if row["status"] == "answered":
            return AnswerResult("already_answered", question_id, claimed_by=row["claimed_by"])
        if row["status"] == "claimed" and row["claimed_by"] != expert:
            return AnswerResult("claimed_by_other", question_id, claimed_by=row["claimed_by"])
        if by == "email":
            assert sender is not None and address is not None
            mail_id = await _queue_mail(conn, rules, row, body, sender, address)
            await questions_store.record_answer(conn, row, expert=expert, text=body,
                                                mail_outbox_id=mail_id, now=now)
            return AnswerResult("answered", question_id, None, expert, mail_id, "email")
        outbound_id = await outbound_store.insert_answer(
            conn, row["msisdn"], row["shortcode"], wrapped(rules, row, body), not_before=now)
        await questions_store.record_answer(conn, row, expert=expert, text=body,
                                            outbound_id=outbound_id, now=now)
    return AnswerResult("answered", question_id, outbound_id, expert, channel="sms")


def _checked_body(rules: Rules, question: asyncpg.Record, text: str, by: AnswerChannel,
                  max_segments: int) -> str:
    """The answer as it is kept: SMS on one line, e-mail with its paragraphs."""
    if by == "email":
        body = "\n".join(line.rstrip() for line in text.strip().splitlines())
        if not body:
            raise ValueError("the answer is empty; write something before sending")
        if len(body) > MAX_EMAIL_ANSWER_CHARS:
            raise AnswerTooLong(said(N_("the answer has %(count)s characters, more than "
                                        "%(max_email_answer_chars)s; shorten it"),
                                     count=len(body),
                                     max_email_answer_chars=MAX_EMAIL_ANSWER_CHARS))
        return body
    body = " ".join(text.split())
    if not body:
        raise ValueError("the answer is empty; write something before sending")
    segments = segment_count(wrapped(rules, question, body))
    if segments > max_segments:
        raise AnswerTooLong(said(N_("the answer takes %(segments)s SMS segments, more than "
                                    "%(max_segments)s; shorten it"),
                                 segments=segments, max_segments=max_segments))
    return body


async def _queue_mail(conn: asyncpg.Connection, rules: Rules, question: asyncpg.Record,
                      body: str, sender: Sender, address: str) -> int:
    """The answer by e-mail, in reply to the citizen's latest mail (else our last one)."""
    tip = await questions_store.thread_tip(conn, question["id"])
    themes = rules.themes.get(question["program"])
    topic = themes.topics.get(question["theme"]) if themes is not None else None
    program = rules.programs[question["program"]]
    queued = await outgoing.queue(
        conn, rules, sender,
        Recipient(address, question["name"], tip[0] if tip else None,
                  tuple(tip[1]) if tip else ()),
        program=program.id, language=question["language"] or language_of(program),
        kind="answer", question_id=question["id"],
        dedupe_key=f"answer:{question['id']}:{question['round']}",
        values={"theme": topic.name if topic else question["theme"], "answer": body,
                "question": question["body"], "name": question["name"], "subject": ""})
    return queued.id


async def escalate(pool: asyncpg.Pool, rules: Rules, now: datetime, *,
                   mail: StaffMail | None = None) -> int:
    """Escalate questions past their SLA to their theme's leads; how many were.

    With `mail`, each lead's notice is queued in the escalation's transaction: both
    commit, or neither does.
    """
    leads = {(pid, tid): topic.leads for pid, themes in rules.themes.items()
             for tid, topic in themes.topics.items()}
    async with pool.acquire() as conn, conn.transaction():
        rows = await questions_store.escalate_overdue(conn, leads, now=now)
        if mail is not None:
            await queue_breach_notices(conn, rules, rows, mail=mail, now=now)
    for row in rows:
        log.warning("question_escalated", question_id=row["id"], theme=row["theme"],
                    program=row["program"],
                    leads=[mask_email(lead) for lead in row["escalated_to"]])
    return len(rows)
