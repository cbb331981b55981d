"""A citizen's reply, filed onto the question it answers.

Why follow the Message-IDs and not the subject: `In-Reply-To` and
`References` name our acknowledgement or answer (mail_outbox rows carry
their question), the citizen's first mail, or an earlier reply, and those
ids are unique where subjects are not ("Re: question"). The reply must also
come from the question's own address: a Message-ID is not a secret (it
travels in every copy of the thread), so a stranger who names one starts a
new question rather than writing into someone else's.

A reply joins the question as a later message; an answered question is
reopened for its next round, with a fresh SLA, so the theme's experts see
it again. No acknowledgement is sent: the citizen is in a conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import asyncpg

from gateway.engine import Rules
from gateway.store import questions as questions_store

UNKNOWN_THEME_SLA: Final = 2 * 86400  # a theme since removed from keywords.yaml: the default


async def question_replied_to(conn: asyncpg.Connection, ids: Sequence[str],
                              address: str) -> asyncpg.Record | None:
    """The question (locked) the nearest of `ids` belongs to, if `address` asked it."""
    found = await questions_store.find_threads(conn, ids)
    for message_id in ids:
        question_id = found.get(message_id)
        if question_id is None:
            continue
        question = await questions_store.lock_question(conn, question_id)
        if question is not None and question["email"] == address:
            return question
    return None


async def file_reply(conn: asyncpg.Connection, rules: Rules, question: asyncpg.Record, *,
                     mail_inbound_id: int, body: str, received_at: datetime) -> bool:
    """The reply joins `question`; True when that reopened it."""
    themes = rules.themes.get(question["program"])
    topic = themes.topics.get(question["theme"]) if themes is not None else None
    sla = topic.sla if topic is not None else UNKNOWN_THEME_SLA
    return await questions_store.add_message(
        conn, question, mail_inbound_id=mail_inbound_id, body=body, received_at=received_at,
        sla_due=received_at + timedelta(seconds=sla))
