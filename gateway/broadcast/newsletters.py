"""Newsletters: broadcasts on the e-mail channel, to a program's confirmed subscribers.

A newsletter is a `broadcasts` row with channel 'email' and a subject, so it
is scheduled, started, paused, resumed and cancelled by the same guarded
transitions as an SMS broadcast (control.py). What differs:

- **Who**: the program's addresses whose state is 'subscribed' (asked, then
  confirmed by the link; gateway/email_consent/). Pending requests and
  opt-outs are never queued; an opt-out after queuing is caught at send time
  (store/address_consent.py `mail_suppression_reason`). An optional segment
  is the SMS broadcasts' audience filter, read from the contact of a number
  verified to be the subscriber's person (store/newsletter_segments.py); an
  address with no linked number is left out of any non-empty segment.
- **When**: no quiet hours (an e-mail waits in the inbox); the sender paces
  each recipient domain. A newsletter is queued a window at a time
  (`QUEUE_WINDOW` copies waiting at most), so a pause stops it within one
  window, and a cancel stops it and suppresses the copies still waiting.
- **What**: the organizer's subject and text ({program} is the only
  placeholder: an address has no profile until a person links it), then the
  footer with the recipient's own unsubscribe link and the privacy charter
  (texts/*.toml), as a bulk mail carrying RFC 8058 one-click unsubscribe.

Each batch is one transaction holding the newsletter's row: the copies, their
recipients and the cursor commit together, so a crash resumes where it
stopped and (newsletter, address) is queued once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Final

import asyncpg

from gateway.audience import Audience, AudienceError, parse_audience
from gateway.broadcast import send_time
from gateway.broadcast.compose_checks import ComposeError, program_of
from gateway.broadcast.service import BroadcastError
from gateway.config import Settings
from gateway.email_consent.texts import language_of, texts
from gateway.engine import Rules
from gateway.engine.rules import ProgramRules
from gateway.logs import get_logger
from gateway.outgoing_mail import OutgoingMail, domain_of, new_message_id
from gateway.plain_words import N_, said
from gateway.store import broadcasts as store
from gateway.store import mail_outbox, newsletter_segments
from gateway.store import newsletters as recipients
from gateway.unsubscribe_link import LinkKeyMissing, unsubscribe_url

log = get_logger("gateway.broadcast.newsletters")

QUEUE_WINDOW: Final = 500  # copies of one newsletter waiting at most: a pause bites within it
MAX_SUBJECT: Final = 200
MAX_TEXT: Final = 100_000
MAX_FILTER: Final = 2_000
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
ALLOWED_PLACEHOLDERS: Final = frozenset({"program"})


class NewsletterError(BroadcastError):
    """A running newsletter that cannot be queued now (no From address, program gone)."""


async def create(conn: asyncpg.Connection, rules: Rules, *, program: str, subject: str,
                 text: str, created_by: str, now: datetime,
                 scheduled_at: datetime | None = None, zone: str = "UTC",
                 where: str = "") -> int:
    """Store a draft newsletter (or a scheduled one, `scheduled_at` ahead of `now`),
    to the segment `where` (the audience language; empty: every confirmed subscriber).

    ComposeError names the field to fix, as for an SMS broadcast.
    """
    program_of(rules, program)
    where = where.strip()
    segment(where)
    subject, text = subject.strip(), text.strip()
    for name, value, limit in (("subject", subject, MAX_SUBJECT), ("text", text, MAX_TEXT)):
        if not value:
            raise ComposeError(name, said(N_("the %(name)s is empty"), name=name))
        if len(value) > limit:
            raise ComposeError(name, said(N_("the %(name)s is longer than %(limit)s characters"),
                                          name=name, limit=format(limit, ",")))
        unknown = sorted(set(PLACEHOLDER.findall(value)) - ALLOWED_PLACEHOLDERS)
        if unknown:
            raise ComposeError(
                name, said(N_("the %(name)s names %(unknown)s; a newsletter may only name "
                              "{program} (an address has no profile fields)"),
                           name=name, unknown=', '.join('{' + u + '}' for u in unknown)))
    if scheduled_at is not None and scheduled_at.tzinfo is None:
        raise ComposeError("scheduled_at", N_("the send time needs a time zone"))
    send_time.check_ahead(scheduled_at, now=now, zone=zone)
    return await store.insert_broadcast(
        conn, program=program, shortcode="", filter=where, template=text,
        status="draft" if scheduled_at is None else "scheduled", scheduled_at=scheduled_at,
        created_by=created_by, channel="email", subject=subject)


def segment(where: str) -> Audience | None:
    """The parsed segment filter, or ComposeError on the field `where` saying what and where."""
    if len(where) > MAX_FILTER:
        raise ComposeError("where", said(N_("the filter is longer than %(max_filter)s characters"),
                                         max_filter=format(MAX_FILTER, ",")))
    try:
        return parse_audience(where)
    except AudienceError as err:
        raise ComposeError("where", said(N_("filter: %(err)s"), err=err)) from None


async def preview(conn: asyncpg.Connection, rules: Rules, *, program: str, where: str,
                  now: datetime) -> newsletter_segments.SegmentCount:
    """How many confirmed subscribers the segment reaches now, before anything is stored."""
    found = program_of(rules, program)
    return await newsletter_segments.count(
        conn, program=program, shortcodes=found.shortcodes, audience=segment(where.strip()),
        now=now)


class NewsletterQueue:
    """The broadcast ticker's e-mail step: queue the next window of each running newsletter."""

    def __init__(self, settings: Settings, rules: Callable[[], Rules], *,
                 window: int = QUEUE_WINDOW) -> None:
        self._settings = settings
        self._rules = rules
        self._window = window

    async def tick(self, conn: asyncpg.Connection, now: datetime) -> int:
        """Copies queued this pass, over every running newsletter."""
        queued = 0
        for broadcast_id in await store.newsletters_to_queue(conn):
            try:
                queued += await self._batch(conn, broadcast_id, now)
            except (NewsletterError, LinkKeyMissing) as err:
                log.error("newsletter_not_queued", broadcast_id=broadcast_id, error=str(err))
        return queued

    async def _batch(self, conn: asyncpg.Connection, broadcast_id: int, now: datetime) -> int:
        async with conn.transaction():
            if not await store.lock_running_newsletter(conn, broadcast_id):
                return 0  # paused, cancelled or finished since it was listed
            newsletter = await store.get_broadcast(conn, broadcast_id)
            assert newsletter is not None and newsletter.subject is not None
            room = self._window - await recipients.in_flight(conn, broadcast_id)
            if room <= 0:
                return 0
            program = self._program(newsletter.program)
            addresses = await newsletter_segments.next_subscribers(
                conn, program=newsletter.program, shortcodes=program.shortcodes,
                audience=_stored_segment(newsletter), after=newsletter.materialized_through or "",
                limit=room, now=now)
            queued = [(address, await self._queue_copy(conn, newsletter, program, address))
                      for address in addresses]
            await recipients.add_recipients(conn, broadcast_id, queued, now)
            finished = len(addresses) < room
            await store.advance_newsletter(conn, broadcast_id,
                                           through=addresses[-1] if addresses else None,
                                           added=len(queued), finished=finished)
        if finished:
            log.info("newsletter_queued", broadcast_id=broadcast_id,
                     recipients=newsletter.recipients + len(queued))
        return len(queued)

    async def _queue_copy(self, conn: asyncpg.Connection, newsletter: store.Broadcast,
                          program: ProgramRules, address: str) -> int:
        sender = self._settings.mail_sender()
        if sender is None:
            raise NewsletterError("no From address: set GATEWAY_MAIL_FROM_ADDRESS")
        link = unsubscribe_url(self._settings, address, program.id)
        footer = texts(language_of(program)).say(
            "newsletter", "footer", program=program.name, unsubscribe_url=link,
            privacy_url=program.privacy_url, privacy_version=program.privacy_version)
        assert newsletter.subject is not None
        mail = OutgoingMail(
            purpose="newsletter", from_address=sender,
            from_name=self._settings.mail_from_name or None, to_address=address,
            subject=_filled(newsletter.subject, program),
            text_body=f"{_filled(newsletter.template, program)}\n\n-- \n{footer}\n",
            bulk=True, unsubscribe_url=link,
            dedupe_key=f"newsletter:{newsletter.id}:{address}")
        queued = await mail_outbox.enqueue(conn, mail, message_id=new_message_id(
            domain_of(sender)))
        return queued.id

    def _program(self, program_id: str) -> ProgramRules:
        found = self._rules().programs.get(program_id)
        if found is None:
            raise NewsletterError(f"program {program_id!r} is no longer in the keywords file")
        return found


def _stored_segment(newsletter: store.Broadcast) -> Audience | None:
    try:
        return parse_audience(newsletter.filter)
    except AudienceError as err:  # checked at creation; only a changed language gets here
        raise NewsletterError(f"newsletter {newsletter.id}'s filter: {err}") from None


def _filled(text: str, program: ProgramRules) -> str:
    return text.replace("{program}", program.name)
