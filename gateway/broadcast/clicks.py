"""A visit to a tracked short link: counted (a person) or not (a preview bot), then where to go.

One transaction: the click is counted on its link and, for a person, logged
and put on the recipient's timeline (a `link_clicked` event), so the contact
page and the broadcast's results agree. A keyword reply's link
(pipeline/reply_links.py) counts the same way; its timeline event says it came
from a reply. A bot's visit (broadcast/link_bots.py)
only moves the link's own `bot_visits` counter. The destination is the one
stored when the text was sent (store/short_links.py): editing the broadcast
afterwards changes nothing for texts already out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.broadcast.link_bots import is_machine
from gateway.logs import get_logger
from gateway.plain_words import N_, Words
from gateway.store import short_links, timeline

log = get_logger("gateway.broadcast.clicks")

LINK_CLICKED = "link_clicked"  # the timeline event's name
REPLY_LINK_CLICKED = "reply_link_clicked"  # a keyword reply's link (pipeline/reply_links.py)
LINK_EVENT_WORDS: Final[Words] = {LINK_CLICKED: N_("Opened a link from a broadcast"),
                                  REPLY_LINK_CLICKED: N_("Opened a link from a reply")}


@dataclass(frozen=True, slots=True)
class Visit:
    destination: str
    counted: bool  # False: a preview bot or a prefetcher


async def visit(conn: asyncpg.Connection, token: str, *, user_agent: str | None, method: str,
                at: datetime) -> Visit | None:
    """Record one visit to `token`; None when no link has it (the caller answers 404)."""
    person = not is_machine(user_agent, method)
    async with conn.transaction():
        link = await short_links.follow(conn, token, at=at, by_person=person)
        if link is None:
            return None
        if person:
            origin: dict[str, int | None] = (
                {"broadcast_id": link.broadcast_id} if link.broadcast_id is not None
                else {"in_reply_to": link.in_reply_to})
            await timeline.insert_batch(conn, [timeline.NewEvent(
                link.msisdn, link.shortcode, None,
                LINK_CLICKED if link.broadcast_id is not None else REPLY_LINK_CLICKED,
                {**origin, "destination": link.destination, "clicks": link.clicks}, at)])
    log.info("short_link_visited", broadcast_id=link.broadcast_id,
             in_reply_to=link.in_reply_to, link_id=link.id, counted=person)
    return Visit(link.destination, person)
