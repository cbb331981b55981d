"""The e-mail router: every stored mail routed once, under the supervisor as `mail-route`.

Why one message per transaction, taken with FOR UPDATE SKIP LOCKED: the
transaction that takes a message also writes what routing did (a question,
a reply filed, an acknowledgement or answer queued) and marks the message
routed (store/mail_inbound.py). A crash anywhere before COMMIT undoes all
of it and the message is taken again; after COMMIT it is never taken again.
Two gateways on one database skip each other's locked message, so each is
routed by one of them. Messages are taken oldest first, whenever they were
committed: nothing is skipped.

What a message becomes (the `route` recorded with it, docs/email.md):
* `never_answer`: an auto-reply, a bounce, list traffic, a robot's or our
  own address (gateway/mail/answer_policy.py decided it at intake);
* `threaded`: a reply to one of our mails or to its own question
  (routing/threads.py);
* `knowledge_answer`, `question`, `unrouted`: routing/intake.py.
A fault that is not the database's or the network's (a bug, a row the
schema refuses) records the message as `failed` with the error's name and
goes on to the next, so one message cannot stop the others; database and
network errors are left to the supervisor, which tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.config import Settings
from gateway.email_address import EmailAddressError, normalize_email
from gateway.email_consent import unsubscribe_by_reply
from gateway.engine import Rules
from gateway.engine.mail_texts import one_line
from gateway.engine.written import language_of
from gateway.logs import get_logger
from gateway.routing import threads
from gateway.routing.intake import Incoming, Routing, take_in
from gateway.routing.mail_text import body_text, question_text, thread_ids
from gateway.routing.outgoing import Recipient, Sender
from gateway.routing.programs import program_for
from gateway.store import mail_inbound
from gateway.tasks import TRANSIENT, Supervisor

log = get_logger("gateway.routing")

# A row the schema refuses will be refused again: a fault of the message, not of the database.
REFUSED = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


@dataclass(frozen=True, slots=True)
class RouterConfig:
    routing: Routing
    programs: Mapping[str, str]  # contact address -> program
    contact_addresses: frozenset[str]

    @classmethod
    def of(cls, settings: Settings) -> RouterConfig:
        return cls(Routing(Sender.of(settings), settings.mail_route_knowledge_max_words),
                   settings.mail_route_programs, frozenset(settings.mail_contact_addresses))


@dataclass(frozen=True, slots=True)
class Routed:
    route: str
    reason: str | None = None
    question_id: int | None = None


class MailRouter:
    def __init__(self, pool: asyncpg.Pool, rules: Callable[[], Rules], config: RouterConfig,
                 *, clock: Callable[[], datetime], interval: float) -> None:
        self._pool = pool
        self._rules = rules
        self._config = config
        self._clock = clock
        self._interval = interval
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look now rather than at the next interval (new mail was stored)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            while await self.route_next():
                pass
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def route_next(self) -> bool:
        """Route the oldest unrouted message; False when none is left to take."""
        mail_id: int | None = None
        async with self._pool.acquire() as conn:
            try:
                async with conn.transaction():
                    row = await mail_inbound.take_unrouted(conn)
                    if row is None:
                        return False
                    mail_id = row["id"]
                    routed = await route_mail(conn, self._rules(), self._config, row)
                    await mail_inbound.mark_routed(
                        conn, row["id"], route=routed.route, reason=routed.reason,
                        question_id=routed.question_id, now=self._clock())
            except REFUSED as err:
                routed = await self._failed(conn, mail_id, err)
            except TRANSIENT:
                raise
            except Exception as err:
                routed = await self._failed(conn, mail_id, err)
        log.info("mail_routed", mail_id=mail_id, route=routed.route, reason=routed.reason,
                 question_id=routed.question_id)
        return True

    async def _failed(self, conn: asyncpg.Connection, mail_id: int | None,
                      err: Exception) -> Routed:
        if mail_id is None:
            raise err
        log.error("mail_route_failed", mail_id=mail_id, error=type(err).__name__,
                  exc_info=True)
        routed = Routed("failed", type(err).__name__)
        async with conn.transaction():
            await mail_inbound.mark_routed(conn, mail_id, route=routed.route,
                                           reason=routed.reason, question_id=None,
                                           now=self._clock())
        return routed


async def route_mail(conn: asyncpg.Connection, rules: Rules, config: RouterConfig,
                     mail: Mapping[str, Any]) -> Routed:
    """What one stored message becomes, written in the caller's transaction."""
    if mail["never_answer"]:
        return Routed("never_answer", mail["never_answer"])
    try:
        address = normalize_email(mail["reply_to"] or mail["from_address"] or "")
    except EmailAddressError:
        return Routed("unrouted", "bad_reply_address")
    if await unsubscribe_by_reply(conn, address, mail["id"], body_text(mail),
                                  mail["received_at"], subject=one_line(mail["subject"])):
        return Routed("never_answer", "unsubscribe_reply")  # as final as a STOP, unanswered
    ids = thread_ids(mail)
    question = await threads.question_replied_to(conn, ids, address) if ids else None
    if question is not None:
        reopened = await threads.file_reply(
            conn, rules, question, mail_inbound_id=mail["id"], body=body_text(mail),
            received_at=mail["received_at"])
        return Routed("threaded", "reopened" if reopened else None, question["id"])
    written_to = [*mail["envelope_to"], *mail["to_addresses"], *mail["cc_addresses"]]
    program = program_for(rules, config.programs, written_to)
    found = rules.programs.get(program)
    ours = next((a.lower() for a in written_to if a.lower() in config.contact_addresses), None)
    taken = await take_in(conn, rules, config.routing, Incoming(
        channel="email", program=program, language=language_of(found) if found else "en",
        text=question_text(mail), received_at=mail["received_at"],
        recipient=Recipient(address, one_line(mail["from_name"]) or None, mail["message_id"],
                            tuple(mail["references_ids"] or ()), ours),
        subject=one_line(mail["subject"]), mail_inbound_id=mail["id"]))
    return Routed(taken.route, taken.reason, taken.question_id)


def start_mail_router(settings: Settings, pool: asyncpg.Pool, rules: Callable[[], Rules],
                      supervisor: Supervisor, *, clock: Callable[[], datetime]
                      ) -> MailRouter | None:
    """Run the router as `mail-route` on a gateway that takes mail in (SMTP or IMAP); a
    gateway without either runs as before. Several may run: each message is routed once."""
    if not (settings.mail_smtp_enabled or settings.mail_imap_host):
        return None
    router = MailRouter(pool, rules, RouterConfig.of(settings), clock=clock,
                        interval=settings.mail_route_interval)
    supervisor.run("mail-route", router.run)
    return router
