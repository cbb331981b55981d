"""The shell around the contact centre on the MO path: lookups and questions.

In the MO's transaction (called from pipeline/decide.py):

* `schedule_lookup` (the handler of the engine's `KnowledgeLookup` events)
  holds the answer's place among the batch's replies, right after the ones
  the engine queued for that MO, so the supporter reads them in order and
  the consent/donation rows that point at "reply number N of this MO" still
  do; `answer_lookups` then reads the nearest committee, the next events or
  a document's passage (knowledge/lookups.py, shared with e-mail) and
  renders each answer with the engine's own pure `render_lookup`.
* `question_row` (the handler of `QuestionAsked`) makes the question row.

Outside it, the staff's side (an expert's answer, escalation past the SLA) is
gateway/services/answers.py; a postal code's area and position, which the
lookups and the committee forms share, is gateway/geo.py `postal_position`.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from gateway.engine import Rules
from gateway.engine.events import KnowledgeLookup, QuestionAsked
from gateway.engine.knowledge import render_lookup
from gateway.knowledge import lookups
from gateway.pipeline.batch_writes import BatchWrites, Origin, PendingLookup
from gateway.store.outbound import NewOutbound
from gateway.store.questions import NewQuestion


def schedule_lookup(event: KnowledgeLookup, origin: Origin, writes: BatchWrites) -> None:
    """Keep the answer's place among the replies; `answer_lookups` writes it."""
    writes.replies.append(PendingLookup(origin, event))


async def answer_lookups(
    conn: asyncpg.Connection, rules: Rules, replies: Sequence[NewOutbound | PendingLookup]
) -> list[NewOutbound]:
    """The batch's replies with each lookup answered in its place (usually none: no query)."""
    answered = []
    for reply in replies:
        if isinstance(reply, PendingLookup):
            reply = await _answer(conn, rules, reply)
        answered.append(reply)
    return answered


async def _answer(conn: asyncpg.Connection, rules: Rules, pending: PendingLookup
                  ) -> NewOutbound:
    origin = pending.origin
    found = await lookups.values(conn, rules, pending.lookup, words=origin.body,
                                 now=origin.received_at)
    profile = origin.state.data.get("profile") or {}
    text = render_lookup(rules, pending.lookup, found, profile)
    return NewOutbound(origin.msisdn, origin.shortcode, text, 0, False, origin.mo_id,
                       origin.received_at)


def question_row(event: QuestionAsked, origin: Origin, writes: BatchWrites) -> None:
    """A question for the theme's experts, inserted with the batch."""
    writes.questions.append(NewQuestion(
        msisdn=origin.msisdn, shortcode=origin.shortcode, program=event.program,
        theme=event.theme, inbound_id=event.mo_id, body=event.text, via=event.via,
        asked_at=origin.received_at, sla_due=event.sla_due,
    ))
