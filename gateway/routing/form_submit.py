"""A checked post of the public form: stored, limited, and taken in like an e-mail.

One transaction: the post (web_messages, deduplicated by its form's nonce),
its rate-limit hits, what routing/intake.py does with it (the same
function as for a new e-mail: a standard answer, or a question and its
acknowledgement by e-mail, or by SMS when only a mobile number was given),
and, when the box was ticked, the seam routing/campaign_box.py. The
thank-you page is shown after the COMMIT, so every post thanked is stored.

Rate limits, kept in PostgreSQL so every gateway counts the same posts:
at most `per_ip` posts an hour from one client address and `per_address`
from one e-mail address or mobile number. The keys are HMACs under the
form's secret, so the hit table holds no address.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import asyncpg

from gateway.config import Settings
from gateway.engine import Rules
from gateway.engine.model import CampaignBox, Language
from gateway.engine.written import language_of
from gateway.routing.campaign_box import TickedBox, campaign_box_ticked
from gateway.routing.form_post import FormPost
from gateway.routing.intake import Incoming, Routing, take_in
from gateway.routing.outgoing import Recipient
from gateway.store import web_messages
from gateway.store.web_messages import NewWebMessage

WINDOW: Final = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Limits:
    key: bytes  # the form's secret
    per_ip: int
    per_address: int


@dataclass(frozen=True, slots=True)
class Submitted:
    outcome: Literal["accepted", "duplicate", "too_many"]
    web_message_id: int | None = None
    route: str | None = None
    question_id: int | None = None


class _TooMany(Exception):
    """Over a limit: the post's transaction is rolled back."""


def box_shown(rules: Rules, program: str, language: Language) -> tuple[str, str] | None:
    """(wording, version) of the campaign box in `language` (else the program's), or None."""
    themes = rules.themes.get(program)
    box: CampaignBox | None = themes.campaign_box if themes is not None else None
    if box is None:
        return None
    wording = getattr(box, language) or getattr(box, language_of(rules.programs[program]))
    return (wording, box.version) if wording else None


async def submit(pool: asyncpg.Pool, rules: Rules, routing: Routing, limits: Limits, *,
                 program: str, post: FormPost, nonce: str, client: str,
                 now: datetime, settings: Settings) -> Submitted:
    box = box_shown(rules, program, post.language)
    ticked = post.campaign_box and box is not None
    ip_key = _key(limits.key, "ip", client)
    address_keys = [_key(limits.key, kind, value)
                    for kind, value in (("email", post.email), ("mobile", post.msisdn)) if value]
    try:
        async with pool.acquire() as conn, conn.transaction():
            message_id = await web_messages.insert(conn, NewWebMessage(
                received_at=now, program=program, language=post.language, theme=post.theme,
                body=post.message, name=post.name, email=post.email, msisdn=post.msisdn,
                campaign_box=ticked, box_wording=box[0] if box else None,
                box_version=box[1] if box else None, form_nonce=nonce))
            if message_id is None:
                return Submitted("duplicate")
            hits = await web_messages.count_hits(conn, [ip_key, *address_keys], now - WINDOW)
            if hits[ip_key] >= limits.per_ip or any(
                    hits[k] >= limits.per_address for k in address_keys):
                raise _TooMany
            await web_messages.add_hits(conn, [ip_key, *address_keys], at=now,
                                        forget_before=now - WINDOW)
            taken = await take_in(conn, rules, routing, Incoming(
                channel="web", program=program, language=post.language, text=post.message,
                received_at=now, theme=post.theme, msisdn=post.msisdn,
                recipient=Recipient(post.email, post.name, None) if post.email else None,
                web_message_id=message_id))
            await web_messages.set_route(conn, message_id, taken.route, taken.reason)
            if ticked and box is not None:
                await campaign_box_ticked(conn, settings, rules, TickedBox(
                    web_message_id=message_id, program=program, language=post.language,
                    email=post.email, msisdn=post.msisdn, wording=box[0], version=box[1],
                    at=now), client_ip=client)
    except _TooMany:
        return Submitted("too_many")
    return Submitted("accepted", message_id, taken.route, taken.question_id)


def _key(secret: bytes, kind: str, value: str) -> str:
    digest = hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:40]}"
