"""What happens when a citizen ticks the form's "receive information about the campaign" box.

With an e-mail address, the consent ledger records the request with the box's wording
and version, and the confirmation link is mailed (double opt-in,
gateway/email_consent/): nothing is sent to the list before the citizen presses the
button behind it. A post with only a mobile number records the box on the post and
nothing more: a text subscription starts from a keyword the citizen sends (its own
confirmation text), never from a web page that anyone could fill with anyone's number.

Why one function and nothing else: asking a question must never subscribe
anyone by itself (docs/privacy.md, consent by channel), so nothing in routing reads the box; it is
stored on the post as shown (ticked or not, its wording and version:
web_messages), and this function is the one place a ticked box leads
anywhere. It runs in the post's transaction, after the post and its
question are written, so whatever it records commits with them.

"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.config import Settings
from gateway.email_consent import Evidence, request_opt_in
from gateway.engine import Rules
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


async def campaign_box_ticked(conn: asyncpg.Connection, settings: Settings, rules: Rules,
                              box: TickedBox, *, client_ip: str | None) -> None:
    """Record the consent request and queue its confirmation link (an address given)."""
    outcome = None
    if box.email is not None:
        requested = await request_opt_in(
            conn, settings, rules, address=box.email, program=box.program, source="web_form",
            wording=box.wording, version=box.version, now=box.at, language=box.language,
            evidence=Evidence(web_submission_id=box.web_message_id, client_ip=client_ip))
        outcome = requested.outcome
    log.info("campaign_box_ticked", web_message_id=box.web_message_id, program=box.program,
             version=box.version, by_email=box.email is not None,
             by_sms=box.msisdn is not None, opt_in=outcome)
