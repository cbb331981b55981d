"""THE SEAM: what happens when a citizen ticks the form's "receive information about the
campaign" box. The lead wires `campaign_box_ticked` to the consent ledger's double opt-in.

Why one function and nothing else: asking a question must never subscribe
anyone by itself (issue 15 #5), so nothing in routing reads the box; it is
stored on the post as shown (ticked or not, its wording and version:
web_messages), and this function is the one place a ticked box leads
anywhere. It runs in the post's transaction, after the post and its
question are written, so whatever it records commits with them.

Until it is wired, it only logs: a ticked box is kept on the post, and no
newsletter may go to anyone on that ground alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.logs import get_logger

log = get_logger("gateway.routing.campaign_box")


@dataclass(frozen=True, slots=True)
class TickedBox:
    web_message_id: int
    program: str
    language: str
    email: str | None  # normalized; the address a confirmation link would go to
    msisdn: str | None  # E.164
    wording: str  # exactly as shown next to the box
    version: str
    at: datetime


async def campaign_box_ticked(conn: asyncpg.Connection, box: TickedBox) -> None:
    """Wire here: record the consent request and send its confirmation (double opt-in)."""
    log.info("campaign_box_ticked", web_message_id=box.web_message_id, program=box.program,
             version=box.version, by_email=box.email is not None,
             by_sms=box.msisdn is not None)
