"""The shell around the contact centre on the MO path: lookups and questions.

In the MO's transaction (called from pipeline/decide.py):

* `schedule_lookup` (the handler of the engine's `KnowledgeLookup` events)
  holds the answer's place among the batch's replies, right after the ones
  the engine queued for that MO, so the supporter reads them in order and
  the consent/donation rows that point at "reply number N of this MO" still
  do; `answer_lookups` then reads the nearest committee, the next events or
  a document's passage (knowledge/answers.py) and renders each answer with
  the engine's own pure `render_lookup`.
* `question_row` (the handler of `QuestionAsked`) makes the question row.

Outside it, the staff's side (an expert's answer, escalation past the SLA) is
gateway/services/answers.py; a postal code's area and position, which the
lookups and the committee forms share, is gateway/geo.py `postal_position`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import asyncpg

from gateway.engine import Rules
from gateway.engine.events import KnowledgeLookup, QuestionAsked
from gateway.engine.knowledge import format_events, render_lookup
from gateway.geo import postal_position
from gateway.knowledge import answers
from gateway.pipeline.batch_writes import BatchWrites, Origin, PendingLookup
from gateway.store import committees as committees_store
from gateway.store.outbound import NewOutbound
from gateway.store.questions import NewQuestion

# A committee farther than this is not "near" (US zips, by distance).
NEAREST_MAX_KM: Final = 300.0


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
