"""An expert's answer, wrapped in its theme's text and queued; questions past their SLA.

Why these rules live here and not in the store: what an answer may be (not
empty, at most `max_segments` SMS segments once wrapped), who may give it
(the expert holding the claim, or anyone while the question is open), and
the text that goes out (the theme's `answer` template around it) are the
contact centre's rules. The store locks the question, queues the MT
(store/outbound.py, the outbox's one writer) and records the answer, all in
one transaction.

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
from gateway.logs import get_logger, mask_email
from gateway.notify.sla_breach import queue_breach_notices
from gateway.notify.staff_mail import StaffMail
from gateway.smstext import segment_count
from gateway.store import outbound as outbound_store
from gateway.store import questions as questions_store

log = get_logger("gateway.contact_centre")

_SPLIT: Final = "\x00"  # stands in for the answer when the theme's wrapper is rendered

AnswerOutcome = Literal["answered", "claimed_by_other", "already_answered", "not_found"]


class AnswerTooLong(ValueError):
    """The answer would cost more SMS segments than allowed; the expert should shorten it."""


@dataclass(frozen=True, slots=True)
class AnswerResult:
    outcome: AnswerOutcome
    question_id: int
    outbound_id: int | None = None
    claimed_by: str | None = None  # who holds it, when refused


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
    now: datetime, max_segments: int = 6,
) -> AnswerResult:
    """Queue `expert`'s answer to the asker and record who answered.

    A question still open (or escalated) is claimed and answered at once; one
    claimed by another expert, or already answered, is refused as a value.
    Raises `AnswerTooLong` (shorten it) or ValueError (empty).
    """
    question = await questions_store.get_question(conn, question_id)
    if question is None:
        return AnswerResult("not_found", question_id)
    body = " ".join(text.split())
    mt_body = wrapped(rules, question, body)
    if not body.strip():
        raise ValueError("the answer is empty; write something before sending")
    segments = segment_count(mt_body)
    if segments > max_segments:
        raise AnswerTooLong(f"the answer takes {segments} SMS segments, more than "
                            f"{max_segments}; shorten it")
    async with conn.transaction():
        row = await questions_store.lock_question(conn, question_id)
        if row is None:
            return AnswerResult("not_found", question_id)
        if row["status"] == "answered":
            return AnswerResult("already_answered", question_id, claimed_by=row["claimed_by"])
        if row["status"] == "claimed" and row["claimed_by"] != expert:
            return AnswerResult("claimed_by_other", question_id, claimed_by=row["claimed_by"])
        outbound_id = await outbound_store.insert_answer(
            conn, row["msisdn"], row["shortcode"], mt_body, not_before=now)
        await questions_store.record_answer(conn, row, expert=expert, text=body,
                                            outbound_id=outbound_id, now=now)
    return AnswerResult("answered", question_id, outbound_id, expert)


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
