"""The rows behind a standard answer: the nearest committee, the next events, a document's
passage. One place for the SMS path (pipeline/contact_centre.py) and written messages
(gateway/routing/), so an e-mail asking for the nearest committee finds the one an SMS would.

`values` returns the lookup's template values (`committee_*`, `events`, or
`document_*`), or None when nothing was found (the entry's `not_found` text then);
the engine renders the answer (engine/knowledge.py `render_lookup`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import asyncpg

from gateway.engine import Rules
from gateway.engine.events import KnowledgeLookup
from gateway.engine.knowledge import format_events
from gateway.geo import postal_position
from gateway.knowledge import answers
from gateway.store import committees as committees_store

# A committee farther than this is not "near" (US zips, by distance).
NEAREST_MAX_KM: Final = 300.0


async def values(conn: asyncpg.Connection, rules: Rules, lookup: KnowledgeLookup, *,
                 words: str, now: datetime) -> dict[str, str] | None:
    """What `lookup` names, for the text `words` (a document's passage matches them)."""
    if lookup.lookup == "document" and lookup.document is not None:
        return await answers.document_values(conn, lookup.program, lookup.document, words)
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
