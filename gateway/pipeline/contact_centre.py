"""The shell around the contact centre: lookups, questions, answers and escalation.

In the MO's transaction (called from pipeline/decide.py):

* `schedule_lookup` (the handler of the engine's `KnowledgeLookup` events)
  holds the answer's place among the batch's replies, right after the ones
  the engine queued for that MO, so the supporter reads them in order and
  the consent/donation rows that point at "reply number N of this MO" still
  do; `answer_lookups` then reads the nearest committee, the next events or
  a document's passage (knowledge/answers.py) and renders each answer with
  the engine's own pure `render_lookup`.
* `question_row` (the handler of `QuestionAsked`) makes the question row.

Outside it: `answer_question` (an expert's answer, wrapped in the theme's
`answer` text, through the outbox) and `escalate` (the periodic job that hands
questions past their SLA to the theme's leads; app.py runs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

import asyncpg
import zipcodes

from gateway.engine import Rules
from gateway.engine.events import KnowledgeLookup, QuestionAsked
from gateway.engine.knowledge import format_events, render_lookup
from gateway.engine.model import Step
from gateway.engine.validators import fr_postal_code
from gateway.knowledge import answers
from gateway.logs import get_logger
from gateway.pipeline.batch_writes import BatchWrites, Origin, PendingLookup
from gateway.store import committees as committees_store
from gateway.store import questions as questions_store
from gateway.store.committees import NewCommittee
from gateway.store.outbound import NewOutbound
from gateway.store.questions import AnswerResult, NewQuestion

log = get_logger("gateway.contact_centre")

# A committee farther than this is not "near" (US zips, by distance).
NEAREST_MAX_KM: Final = 300.0
# The postal validators ignore their step; they are called here outside any dialog.
_NO_STEP: Final = Step.model_validate({"field": "postal_code", "prompt": "-",
                                       "validator": "fr_postal_code"})


@lru_cache(maxsize=4096)
def postal_position(country: str, postal_code: str) -> tuple[str, float | None, float | None]:
    """(area, lat, lon) of a postal code: département (FR) or zip3 (US); lat/lon for US zips."""
    code = postal_code.strip()[:5]
    if country == "FR":
        accepted = fr_postal_code(code, _NO_STEP)
        return (accepted.derived["department"] if accepted else code[:2]), None, None
    entries: list[dict[str, Any]] = []
    if code.isdigit() and len(code) == 5:
        entries = zipcodes.matching(code)  # type: ignore[no-untyped-call]
    for entry in entries:
        if entry.get("lat") and entry.get("long"):
            return code[:3], float(entry["lat"]), float(entry["long"])
    return code[:3], None, None


def new_committee(
    name: str, address: str, postal_code: str, country: str, *, city: str = "",
    phone: str | None = None,
) -> NewCommittee:
    """A committee row with its area and position filled in from the postal code."""
    area, lat, lon = postal_position(country, postal_code)
    return NewCommittee(name=name, address=address, postal_code=postal_code, country=country,
                        area=area, city=city, phone=phone, lat=lat, lon=lon)


def schedule_lookup(event: KnowledgeLookup, origin: Origin, writes: BatchWrites) -> None:
    """Keep the answer's place among the replies; `answer_lookups` writes it."""
    writes.replies.append(PendingLookup(origin, event))


async def answer_lookups(
    conn: asyncpg.Connection, rules: Rules, replies: Sequence[NewOutbound | PendingLookup]
) -> list[NewOutbound]:
    """The batch's replies with each lookup answered in its place (usually none: no query)."""
    answered = []
    for reply in replies:
        if isinstance(reply, PendingLookup):
            reply = await _answer(conn, rules, reply)
        answered.append(reply)
    return answered


async def _answer(conn: asyncpg.Connection, rules: Rules, pending: PendingLookup
                  ) -> NewOutbound:
    origin = pending.origin
    lookup = pending.lookup
    if lookup.lookup == "document" and lookup.document is not None:  # a document's passage
        found = await answers.document_values(conn, lookup.program, lookup.document,
                                              origin.body)
    else:
        found = await _look_up(conn, rules, lookup, origin.received_at)
    profile = origin.state.data.get("profile") or {}
    text = render_lookup(rules, pending.lookup, found, profile)
    return NewOutbound(origin.msisdn, origin.shortcode, text, 0, False, origin.mo_id,
                       origin.received_at)


async def _look_up(
    conn: asyncpg.Connection, rules: Rules, lookup: KnowledgeLookup, now: datetime
) -> dict[str, str] | None:
    country, postal = lookup.country, lookup.postal_code
    area, lat, lon = postal_position(country, postal) if postal else (None, None, None)
    if lookup.lookup == "committee":
        assert postal is not None and area is not None  # the engine asks only with a code
        row = await committees_store.get_nearest_committee(
            conn, country=country, postal_code=postal, area=area, lat=lat, lon=lon,
            max_km=NEAREST_MAX_KM)
        if row is None:
            return None
        return {"committee_name": row["name"], "committee_address": row["address"],
                "committee_postal_code": row["postal_code"], "committee_city": row["city"],
                "committee_phone": row["phone"] or ""}
    rows = await committees_store.list_upcoming_events(
        conn, program=lookup.program, country=country, now=now, area=area,
        limit=lookup.limit)
    if not rows:
        return None
    profile = rules.programs[lookup.program].profile
    return {"events": format_events(
        [(r["title"], r["starts_at"], r["timezone"], r["location"]) for r in rows], profile)}


def question_row(event: QuestionAsked, origin: Origin, writes: BatchWrites) -> None:
    """A question for the theme's experts, inserted with the batch."""
    writes.questions.append(NewQuestion(
        msisdn=origin.msisdn, shortcode=origin.shortcode, program=event.program,
        theme=event.theme, inbound_id=event.mo_id, body=event.text, via=event.via,
        asked_at=origin.received_at, sla_due=event.sla_due,
    ))


async def answer_question(
    conn: asyncpg.Connection, rules: Rules, question_id: int, *, expert: str, text: str,
    now: datetime, max_segments: int = 6,
) -> AnswerResult:
    """An expert's answer, wrapped in its theme's `answer` text, queued in the outbox.

    Raises `questions.AnswerTooLong` (shorten it) or ValueError (empty).
    """
    question = await questions_store.get_question(conn, question_id)
    if question is None:
        return AnswerResult("not_found", question_id)
    body = " ".join(text.split())
    themes = rules.themes.get(question["program"])
    mt_body = body
    if themes is not None:
        program = rules.programs[question["program"]]
        topic = themes.topics.get(question["theme"])
        mt_body = themes.answer.render({
            **program.variables(question["shortcode"]), "answer": body,
            "theme": topic.name if topic else question["theme"]})
    return await questions_store.answer(conn, question_id, expert=expert, text=body,
                                        mt_body=mt_body, now=now, max_segments=max_segments)


async def escalate(pool: asyncpg.Pool, rules: Rules, now: datetime) -> int:
    """Escalate questions past their SLA to their theme's leads; how many were."""
    leads = {(pid, tid): topic.leads for pid, themes in rules.themes.items()
             for tid, topic in themes.topics.items()}
    async with pool.acquire() as conn:
        rows = await questions_store.escalate_overdue(conn, leads, now=now)
    for row in rows:
        log.warning("question_escalated", question_id=row["id"], theme=row["theme"],
                    program=row["program"], leads=list(row["escalated_to"]))
    return len(rows)

