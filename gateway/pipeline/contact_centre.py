"""The shell around the contact centre on the MO path: lookups and questions.

In the MO's transaction (called from pipeline/decide.py):

* `lookup_replies` resolves the engine's `knowledge_lookup` events: it reads
  the nearest committee or the next events and renders the answer with the
  engine's own pure `render_lookup`. The reply joins that MO's replies, after
  the ones the engine queued, so the supporter reads them in order and the
  consent/donation rows that point at "reply number N of this MO" still do.
* `questions_from` turns `question_asked` events into question rows.

Outside it, the staff's side (an expert's answer, escalation past the SLA) is
gateway/services/answers.py; a postal code's area and position, which the
lookups and the committee forms share, is gateway/geo.py `postal_position`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.engine import Rules
from gateway.engine.knowledge import format_events, render_lookup
from gateway.engine.types import Decision
from gateway.geo import postal_position
from gateway.store import committees as committees_store
from gateway.store.inbound import NewInbound
from gateway.store.outbound import NewOutbound
from gateway.store.questions import NewQuestion
from gateway.store.timeline import NewEvent

# A committee farther than this is not "near" (US zips, by distance).
NEAREST_MAX_KM: Final = 300.0


async def lookup_replies(
    conn: asyncpg.Connection, rules: Rules, mo_id: int, mo: NewInbound, decision: Decision
) -> list[NewOutbound]:
    """The answers to this decision's knowledge lookups (usually none: no query then)."""
    replies = []
    for event in decision.events:
        if event.name != "knowledge_lookup":
            continue
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
