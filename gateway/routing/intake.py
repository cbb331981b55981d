"""A new written message into the contact centre: the one function for e-mail and the form.

`take_in` runs in the caller's transaction (the mail's routing, the form
post's insert) and does what the engine decides (engine/written.py):

* a standard answer: the knowledge entry's text (a lookup resolved by
  knowledge/lookups.py, as for an SMS), sent by e-mail with the program's
  `knowledge` mail text around it, or by SMS to a form post that gave only
  a mobile number;
* a question: a row in the theme's queue with its SLA
  (store/questions.py), acknowledged by e-mail naming the theme and the
  SLA, or by SMS with the SMS path's own acknowledgement text through the
  SMS outbox (store/outbound.py `insert_answer`, as an expert's SMS answer);
* nothing, when no program can take it (`unrouted`, with the reason).

An answer that cannot go out (no From address configured, no address of the
citizen's) is skipped, never guessed, and the reason is returned to be
recorded with the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from gateway.engine import Rules
from gateway.engine.knowledge import render_lookup
from gateway.engine.mail_texts import MailKind
from gateway.engine.model import Language
from gateway.engine.written import StandardAnswer, ToExperts, Written, route, sms_acknowledgement
from gateway.knowledge import lookups
from gateway.routing.outgoing import Recipient, Sender, queue
from gateway.store import outbound as outbound_store
from gateway.store import questions as questions_store
from gateway.store.questions import NewWrittenQuestion


@dataclass(frozen=True, slots=True)
class Incoming:
    """A new message: an e-mail (`mail_inbound_id`) or a form post (`web_message_id`)."""

    channel: Literal["email", "web"]
    program: str
    language: Language
    text: str  # subject and body: classified, and what the expert reads
    received_at: datetime
    recipient: Recipient | None  # who an e-mail answer goes to (None: no e-mail address)
    msisdn: str | None = None  # a form post's mobile number
    theme: str | None = None  # chosen on the form
    subject: str = ""
    mail_inbound_id: int | None = None
    web_message_id: int | None = None

    @property
    def source(self) -> str:
        """What the decision's dedupe keys name: `email:<mail id>` or `web:<post id>`."""
        return (f"email:{self.mail_inbound_id}" if self.channel == "email"
                else f"web:{self.web_message_id}")


@dataclass(frozen=True, slots=True)
class Routing:
    """What the pieces `take_in` needs of the gateway."""

    sender: Sender | None  # None: nothing can be mailed (GATEWAY_MAIL_FROM_ADDRESS unset)
    knowledge_max_words: int


@dataclass(frozen=True, slots=True)
class TakenIn:
    route: Literal["knowledge_answer", "question", "unrouted"]
    reason: str | None = None  # unrouted: why; otherwise why no answer was queued
    question_id: int | None = None


async def take_in(conn: asyncpg.Connection, rules: Rules, routing: Routing,
                  message: Incoming) -> TakenIn:
    decision = route(rules, Written(message.program, message.text, message.language,
                                    message.theme),
                     now=message.received_at, knowledge_max_words=routing.knowledge_max_words)
    if isinstance(decision, StandardAnswer):
        text = decision.text
        if decision.lookup is not None:
            found = await lookups.values(conn, rules, decision.lookup, words=message.text,
                                         now=message.received_at)
            text = render_lookup(rules, decision.lookup, found, {})
        assert text is not None
        skipped = await _answer(conn, rules, routing, message, kind="knowledge",
                                values={"answer": text}, sms=text, question_id=None)
        return TakenIn("knowledge_answer", skipped)
    if isinstance(decision, ToExperts):
        question_id = await questions_store.insert_written(
            conn, _question(message, decision, _shortcode(rules, message)))
        skipped = await _answer(
            conn, rules, routing, message, kind="acknowledgement", question_id=question_id,
            values={"theme": decision.theme_name, "response_time": decision.response_time},
            sms=sms_acknowledgement(rules, decision, _shortcode(rules, message)))
        return TakenIn("question", skipped, question_id)
    return TakenIn("unrouted", decision.reason)


def _question(message: Incoming, decision: ToExperts, shortcode: str) -> NewWrittenQuestion:
    recipient = message.recipient
    return NewWrittenQuestion(
        channel=message.channel, program=decision.program, theme=decision.theme,
        body=message.text, via=decision.via, language=message.language,
        asked_at=message.received_at, sla_due=decision.sla_due,
        email=recipient.address if recipient else None,
        name=recipient.name if recipient else None, msisdn=message.msisdn,
        shortcode=None if message.msisdn is None else shortcode,
        mail_inbound_id=message.mail_inbound_id, web_message_id=message.web_message_id)


async def _answer(conn: asyncpg.Connection, rules: Rules, routing: Routing, message: Incoming,
                  *, kind: MailKind, values: dict[str, object], sms: str,
                  question_id: int | None) -> str | None:
    """Queue the e-mail (or the SMS); the reason it was not, or None."""
    if message.recipient is not None:
        if routing.sender is None:
            return "no_sender"
        recipient = message.recipient
        await queue(conn, rules, routing.sender, recipient, program=message.program,
                    language=message.language, kind=kind, question_id=question_id,
                    dedupe_key=f"route:{message.source}:{kind}",
                    values={**values, "question": message.text, "name": recipient.name,
                            "subject": message.subject})
        return None
    if message.msisdn is not None:
        await outbound_store.insert_answer(conn, message.msisdn, _shortcode(rules, message),
                                           sms, not_before=message.received_at)
        return None
    return "no_address"


def _shortcode(rules: Rules, message: Incoming) -> str:
    """The short code a form post's SMS go out from: the program's first."""
    return rules.programs[message.program].shortcodes[0]

