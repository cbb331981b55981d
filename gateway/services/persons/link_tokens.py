"""A one-time link that proves an address belongs with another: issued, looked at, confirmed.

How it verifies: a request comes from one address of the citizen (`known`:
the number that texted, the address that wrote or filled the form, or a staff
member acting on what the citizen said there, named in `requested_by`), and a
link goes to the other (`claimed`). Only the holder of `claimed` can follow it,
so confirming proves that holder agrees the two are one person. The token is
random (256 bits), stored only as its SHA-256, works once and expires after
GATEWAY_PERSONS_LINK_HOURS.

Why a page with a button: mail security scanners and chat previews open every
link they see. Opening (`peek`) changes nothing; only the page's POST
(`confirm`) links.

The e-mail goes into the e-mail outbox (purpose 'confirmation') and the SMS
into the SMS outbox the way an expert's answer does, in the same transaction
as the token, so a link is never recorded without its message or sent
without its record. An opted-out number is not texted: the SMS outbox
suppresses it at send time, as for any MT.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import asyncpg

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.outgoing_mail import OutgoingMail, domain_of, new_message_id
from gateway.plain_words import N_
from gateway.services import audit
from gateway.services.errors import ServiceError, conflict, invalid, unavailable
from gateway.services.persons.addresses import channel_of, masked
from gateway.services.persons.membership import join
from gateway.services.persons.texts import Language, texts_for
from gateway.store import mail_outbox
from gateway.store import outbound as outbound_store
from gateway.store import persons as store
from gateway.store.persons import Channel

log = get_logger("gateway.persons")

LINK_PATH: Final = "/link/"
CITIZEN: Final = "citizen"  # who confirmed, in person_links.linked_by and the audit log

TokenOutcome = Literal["valid", "linked", "already_linked", "used", "expired", "unknown"]


@dataclass(frozen=True, slots=True)
class LinkRequest:
    token_id: int
    channel: Channel  # of the claimed address: where the link went
    mail_id: int | None
    outbound_id: int | None


@dataclass(frozen=True, slots=True)
class TokenState:
    """What a link page says: the outcome, in the link's language, addresses masked."""

    outcome: TokenOutcome
    language: Language
    known: str = ""
    claimed: str = ""
    person_id: int | None = None


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def request_link(
    conn: asyncpg.Connection, settings: Settings, *, known: str, claimed: str,
    requested_by: str, evidence: Mapping[str, Any], language: Language, program: str,
    shortcode: str, now: datetime,
) -> LinkRequest:
    """Send `claimed` a one-time link to confirm it belongs with `known`.

    Both addresses in their compared form (E.164, normalize_email). 400 for the
    same address twice, 409 when they are one person already, 503 when an
    e-mail is due and no From address is configured. `evidence` says where the
    request came from (e.g. {"inbound_id": 12} or {"web_message_id": 3}).
    """
    if known == claimed:
        raise invalid(N_("claimed: that is this contact's own address"), field="claimed")
    channel = channel_of(claimed)
    sender = settings.mail_sender()
    if channel == "email" and sender is None:
        raise unavailable("mail_not_configured",
                          N_("no e-mail can be sent: set GATEWAY_MAIL_FROM_ADDRESS (or "
                             "GATEWAY_MAIL_CONTACT_ADDRESSES); nothing was sent"))
    texts = texts_for(settings, language)
    token = secrets.token_urlsafe(32)
    hours = settings.persons_link_hours
    values = {"program": program, "known": masked(known), "claimed": masked(claimed),
              "url": settings.public_url(LINK_PATH + token), "hours": f"{hours:g}"}
    async with conn.transaction():
        person_known = await store.person_of(conn, known)
        if person_known is not None and person_known == await store.person_of(conn, claimed):
            raise conflict(N_("claimed: these two addresses are already one person"),
                           field="claimed")
        token_id = await store.insert_token(
            conn, token_hash=token_hash(token), known=known, claimed=claimed,
            language=language, requested_by=requested_by, evidence=evidence, now=now,
            expires_at=now + timedelta(hours=hours))
        mail_id = outbound_id = None
        if channel == "email":
            assert sender is not None
            queued = await mail_outbox.enqueue(conn, OutgoingMail(
                purpose="confirmation", from_address=sender,
                from_name=settings.mail_from_name or None, to_address=claimed,
                subject=texts.render("mail_subject", **values),
                text_body=texts.render("mail_body", **values),
                dedupe_key=f"person-link:{token_id}"),
                message_id=new_message_id(domain_of(sender)))
            mail_id = queued.id
        else:
            outbound_id = await outbound_store.insert_answer(
                conn, claimed, shortcode, texts.render("sms", **values), not_before=now)
        await store.set_token_message(conn, token_id, mail_id=mail_id, outbound_id=outbound_id)
    log.info("person_link_sent", token_id=token_id, channel=channel)
    return LinkRequest(token_id, channel, mail_id, outbound_id)


async def peek(conn: asyncpg.Connection, token: str, *, now: datetime) -> TokenState:
    """What following the link would do; changes nothing (a scanner may be looking)."""
    found = await store.find_token(conn, token_hash(token))
    return _state(found, now)


async def confirm(conn: asyncpg.Connection, token: str, *, now: datetime) -> TokenState:
    """Use the token: link its two addresses (method 'confirmed_link') and audit it."""
    async with conn.transaction():
        found = await store.find_token(conn, token_hash(token), for_update=True)
        state = _state(found, now)
        if found is None or state.outcome != "valid":
            return state
        try:
            joined = await join(
                conn, found.known_address, found.claimed_address, method="confirmed_link",
                evidence={"token_id": found.id, "requested_by": found.requested_by,
                          **found.evidence},
                linked_by=CITIZEN, reason=None, now=now)
        except ServiceError as err:
            if err.status != 409:  # already one person: confirmed before, by another link
                raise
            await store.use_token(conn, found.id, link_id=None, now=now)
            person_id = await store.person_of(conn, found.known_address)
            return _with(state, "already_linked", person_id)
        await store.use_token(conn, found.id, link_id=joined.link_id, now=now)
        await audit.record(conn, None, audit.PERSON_LINKED, f"person:{joined.person_id}",
                           actor=CITIZEN, method="confirmed_link", link_id=joined.link_id,
                           token_id=found.id,
                           addresses=[found.known_address, found.claimed_address])
    log.info("person_linked", person_id=joined.person_id, link_id=joined.link_id,
             method="confirmed_link")
    return _with(state, "linked", joined.person_id)


def _state(found: store.LinkToken | None, now: datetime) -> TokenState:
    if found is None:
        return TokenState("unknown", "en")
    language: Language = "fr" if found.language == "fr" else "en"
    outcome: TokenOutcome = "valid"
    if found.used_at is not None:
        outcome = "used"
    elif now >= found.expires_at:
        outcome = "expired"
    return TokenState(outcome, language, masked(found.known_address),
                      masked(found.claimed_address))


def _with(state: TokenState, outcome: TokenOutcome, person_id: int | None) -> TokenState:
    return TokenState(outcome, state.language, state.known, state.claimed, person_id)
