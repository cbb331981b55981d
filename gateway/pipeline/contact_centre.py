"""The shell around the contact centre: lookups, questions, answers and escalation.

In the MO's transaction (called from pipeline/decide.py):

* `lookup_replies` resolves the engine's `knowledge_lookup` events: it reads
  the nearest committee, the next events or a document's passage
  (knowledge/answers.py) and renders the answer with the
  engine's own pure `render_lookup`. The reply joins that MO's replies, after
  the ones the engine queued, so the supporter reads them in order and the
  consent/donation rows that point at "reply number N of this MO" still do.
* `questions_from` turns `question_asked` events into question rows.

Outside it: `answer_question` (an expert's answer, wrapped in the theme's
`answer` text, through the outbox) and `escalate` (the periodic job that hands
questions past their SLA to the theme's leads; app.py runs it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

import asyncpg
import zipcodes

from gateway.engine import Rules
from gateway.engine.knowledge import format_events, render_lookup
from gateway.engine.model import Step
from gateway.engine.types import Decision
from gateway.engine.validators import fr_postal_code
from gateway.knowledge import answers
from gateway.logs import get_logger
from gateway.store import committees as committees_store
from gateway.store import questions as questions_store
from gateway.store.committees import NewCommittee
from gateway.store.inbound import NewInbound
from gateway.store.outbound import NewOutbound
from gateway.store.questions import AnswerResult, NewQuestion
from gateway.store.timeline import NewEvent

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


async def lookup_replies(
    conn: asyncpg.Connection, rules: Rules, mo_id: int, mo: NewInbound, decision: Decision
) -> list[NewOutbound]:
    """The answers to this decision's knowledge lookups (usually none: no query then)."""
    replies = []
    for event in decision.events:
        if event.name != "knowledge_lookup":
            continue
        if event.data["lookup"] == "document":  # a passage of a knowledge-base document
            found = await answers.document_values(
                conn, str(event.data["program"]), str(event.data["document"]), mo.body)
        else:
            found = await _look_up(conn, rules, event.data, mo.received_at)
        profile = decision.new_state.data.get("profile") or {}
        text = render_lookup(rules, event.data, found, profile)
        replies.append(NewOutbound(mo.msisdn, mo.shortcode, text, 0, False, mo_id,
                                   mo.received_at))
    return replies


async def _look_up(
    conn: asyncpg.Connection, rules: Rules, lookup: Mapping[str, Any], now: datetime
) -> dict[str, str] | None:
    country, postal = str(lookup["country"]), lookup.get("postal_code")
    area, lat, lon = postal_position(country, postal) if postal else (None, None, None)
    if lookup["lookup"] == "committee":
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
        conn, program=str(lookup["program"]), country=country, now=now, area=area,
        limit=int(lookup["limit"]))
    if not rows:
        return None
    profile = rules.programs[str(lookup["program"])].profile
    return {"events": format_events(
        [(r["title"], r["starts_at"], r["timezone"], r["location"]) for r in rows], profile)}


def questions_from(events: Sequence[NewEvent]) -> list[NewQuestion]:
    """Question rows for the batch's `question_asked` events."""
    return [
        NewQuestion(
            msisdn=e.msisdn, shortcode=e.shortcode, program=str(e.data["program"]),
            theme=str(e.data["theme"]), inbound_id=int(e.data["mo_id"]),
            body=str(e.data["text"]), via=str(e.data["via"]), asked_at=e.occurred_at,
            sla_due=datetime.fromisoformat(str(e.data["sla_due"])),
        )
        for e in events if e.name == "question_asked"
    ]


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

