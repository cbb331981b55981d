"""Double opt-in for e-mail: a request queues a confirmation link; the link's button confirms.

Why double opt-in: anyone can type anyone's address into a form, and the
issue asks that e-mail consent be confirmed by a link before any newsletter.
Why a button on the link's page rather than the link itself: mail providers'
link scanners open every link in a mail; a GET only shows the page, the
POST of its button is the person's act.

Who calls `request_opt_in`: only code that saw an explicit act (a ticked box
on the public form, an e-mail asking to subscribe, an SMS keyword that asks
for the address, an import of a list with its own proof). Asking a question
never calls it. It runs in the caller's transaction, so the request, its
ledger row and its confirmation mail commit with what the caller stores.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import asyncpg

from gateway.config import Settings
from gateway.email_address import normalize_email
from gateway.email_consent.texts import as_language, language_of, masked, texts
from gateway.engine import Rules
from gateway.logs import get_logger
from gateway.outgoing_mail import OutgoingMail, domain_of, new_message_id
from gateway.privacy.pseudonym import number_hash
from gateway.store import address_consent as store
from gateway.store import mail_outbox

log = get_logger(__name__)

CONFIRM_PATH: Final = "/mail/confirm/"
REQUEST_SOURCES: Final = frozenset({"web_form", "email", "sms_keyword", "import"})

Outcome = Literal["queued", "already_pending", "already_subscribed", "suppressed",
                  "not_mailed", "replayed"]
LinkStatus = Literal["open", "confirmed", "already_confirmed", "expired", "closed", "unknown"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where the request came from. A given id also makes a replayed request harmless."""

    web_submission_id: int | None = None  # the public form's stored submission
    mail_inbound_id: int | None = None  # the mail that asked
    client_ip: str | None = None  # a web post's client address (docs/privacy.md says why)


NO_EVIDENCE: Final = Evidence()


@dataclass(frozen=True, slots=True)
class OptInRequest:
    """What `request_opt_in` did.

    outcome: queued (recorded, confirmation mail queued), already_pending (recorded;
    the link sent earlier still works, no second mail), already_subscribed (nothing
    to do, nothing recorded), suppressed (an import of an address that opted out or
    was erased: nothing recorded), not_mailed (recorded, but no From address is
    configured), replayed (this form post or mail was recorded before).
    """

    outcome: Outcome
    event_id: int | None = None
    mail_id: int | None = None


@dataclass(frozen=True, slots=True)
class ConfirmLink:
    """A confirmation link's state (GET) or what pressing its button did (POST); a
    confirmation names its ledger row (`event_id`)."""

    status: LinkStatus
    token: store.Token | None = None
    event_id: int | None = None


async def request_opt_in(
    conn: asyncpg.Connection, settings: Settings, rules: Rules, *, address: str, program: str,
    source: str, wording: str, version: str, evidence: Evidence = NO_EVIDENCE, now: datetime,
    language: str | None = None,
) -> OptInRequest:
    """Record an explicit request to receive `program`'s e-mail and send the confirmation link.

    `wording`/`version`: exactly what the citizen agreed to (the box's label and its
    configured version). `language`: 'en' or 'fr' when known (the form's), else the
    program's. Raises EmailAddressError for a bad address, ValueError for an unknown
    program, source or language, or an empty wording.
    """
    address = normalize_email(address)
    found = rules.programs.get(program)
    if found is None:
        raise ValueError(f"no program {program!r} in the keywords file")
    if source not in REQUEST_SOURCES:
        raise ValueError(f"an opt-in request's source is one of {sorted(REQUEST_SOURCES)}")
    if not wording.strip() or not version.strip():
        raise ValueError("the wording the citizen agreed to and its version are required")
    lang = language_of(found, language)
    async with conn.transaction():
        await store.lock_address(conn, address)
        replay = await store.find_request(conn, address, program,
                                          web_submission_id=evidence.web_submission_id,
                                          mail_inbound_id=evidence.mail_inbound_id)
        if replay is not None:
            return OptInRequest("replayed", replay["id"], replay["mail_outbox_id"])
        current = await store.subscription(conn, address, program)
        if current is not None and current.state == "subscribed":
            return OptInRequest("already_subscribed")
        if source == "import" and ((current is not None and current.state == "unsubscribed")
                                   or await _erased(conn, settings, address)):
            return OptInRequest("suppressed")
        outcome: Outcome
        token: str | None = None
        mail_id: int | None = None
        open_link = await store.open_token(conn, address, program, now)
        if open_link is not None:
            outcome, mail_id = "already_pending", open_link["mail_outbox_id"]
        elif settings.mail_sender() is None:
            outcome = "not_mailed"
        else:
            outcome, token = "queued", secrets.token_urlsafe(32)
            mail_id = await _queue_confirmation(conn, settings, found.name, found.privacy_url,
                                                found.privacy_version, address, lang, token)
        event_id = await store.record(conn, store.NewEvent(
            address=address, program=program, kind="opt_in_requested", source=source,
            wording=wording.strip(), wording_version=version.strip(),
            privacy_url=found.privacy_url, privacy_version=found.privacy_version,
            language=lang, occurred_at=now, mail_outbox_id=mail_id,
            web_submission_id=evidence.web_submission_id,
            mail_inbound_id=evidence.mail_inbound_id, client_ip=evidence.client_ip))
        if token is not None:
            await store.insert_token(
                conn, token_hash=token_hash(token), address=address, program=program,
                language=lang, request_id=event_id, mail_outbox_id=mail_id, created_at=now,
                expires_at=now + timedelta(hours=settings.mail_consent_link_hours))
    log.info("email_opt_in_requested", program=program, source=source, outcome=outcome,
             event_id=event_id, domain=domain_of(address))
    return OptInRequest(outcome, event_id, mail_id)


async def open_confirmation(conn: asyncpg.Connection, token: str, now: datetime) -> ConfirmLink:
    """What the link's page should say (GET): nothing changes."""
    found = await store.token_by_hash(conn, token_hash(token))
    if found is None:
        return ConfirmLink("unknown")
    return ConfirmLink(await _status(conn, found, now), found)


async def confirm(conn: asyncpg.Connection, rules: Rules, *, token: str, now: datetime,
                  client_ip: str | None) -> ConfirmLink:
    """The link's button (POST): confirm once; a second press changes nothing."""
    async with conn.transaction():
        found = await store.token_by_hash(conn, token_hash(token))
        if found is None:
            return ConfirmLink("unknown")
        await store.lock_address(conn, found.address, found.channel)
        found = await store.token_by_hash(conn, token_hash(token))  # as of the lock
        if found is None:  # erased meanwhile
            return ConfirmLink("unknown")
        status = await _status(conn, found, now)
        if status != "open":
            return ConfirmLink(status, found)
        program = rules.programs.get(found.program)
        words = texts(as_language(found.language))
        event_id = await store.record(conn, store.NewEvent(
            address=found.address, program=found.program, kind="opt_in_confirmed",
            source="confirm_link",
            wording=words.say("page", "confirm_statement",
                              program=program.name if program else found.program),
            wording_version=words.version, privacy_url=found.privacy_url,
            privacy_version=found.privacy_version, language=found.language, occurred_at=now,
            request_id=found.request_id, client_ip=client_ip))
        await store.close_token(conn, found.id, "confirmed", now)
    log.info("email_opt_in_confirmed", program=found.program, request_id=found.request_id,
             domain=domain_of(found.address))
    return ConfirmLink("confirmed", found, event_id)


def token_hash(token: str) -> str:
    """Only this is stored: a database reader cannot confirm anyone's subscription."""
    return hashlib.sha256(token.encode()).hexdigest()


async def _status(conn: asyncpg.Connection, token: store.Token, now: datetime) -> LinkStatus:
    if token.closed_by == "confirmed":
        current = await store.subscription(conn, token.address, token.program, token.channel)
        subscribed = current is not None and current.state == "subscribed"
        return "already_confirmed" if subscribed else "closed"
    if token.closed_by is not None:
        return "closed"
    return "expired" if token.expires_at <= now else "open"


async def _queue_confirmation(conn: asyncpg.Connection, settings: Settings, name: str,
                              privacy_url: str, privacy_version: str, address: str,
                              language: str, token: str) -> int:
    sender = settings.mail_sender()
    assert sender is not None
    words = texts(as_language(language))
    values = {"program": name, "link": settings.public_url(CONFIRM_PATH + token),
              "hours": settings.mail_consent_link_hours, "privacy_url": privacy_url,
              "privacy_version": privacy_version, "address": masked(address)}
    mail = OutgoingMail(
        purpose="confirmation", from_address=sender, from_name=settings.mail_from_name or None,
        to_address=address, subject=words.say("mail", "confirm_subject", **values),
        text_body=words.say("mail", "confirm_body", **values) + "\n",
        dedupe_key=f"consent-confirm:{token_hash(token)}")
    queued = await mail_outbox.enqueue(conn, mail, message_id=new_message_id(domain_of(sender)))
    return queued.id


async def _erased(conn: asyncpg.Connection, settings: Settings, address: str) -> bool:
    """Was this address erased? Without the key no erasure could have kept it (docs)."""
    key = settings.privacy_hash_secret
    if key is None or not key.get_secret_value():
        return False
    return await store.is_erased(conn, number_hash(key.get_secret_value().encode(), address))
