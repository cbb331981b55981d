"""The expert inbox: questions by theme, claims, answers, escalation (migration 010).

A question row is written in its MO's transaction (pipeline/contact_centre.py).
Experts then work the theme's queue:

* `claim` is one conditional UPDATE (`WHERE status IN ('open', 'escalated')`).
  Two experts racing both reach the row; PostgreSQL makes the second wait for
  the first's commit and re-checks the condition, so exactly one UPDATE
  returns the row. The loser reads who won: `ClaimResult(outcome="already_claimed")`.
* an answer (gateway/services/answers.py decides who may give it and what
  goes out): `lock_question` holds the row, store/outbound.py queues the MT,
  `record_answer` records who answered and puts `question_answered` on the
  contact's timeline, all in the caller's transaction.
* `escalate_overdue` (a periodic job) moves open questions past their SLA to
  `escalated`, naming the theme's leads; they stay claimable.
* `response_times` measures each theme: answered, waiting, overdue, median
  and 90th percentile time to answer.

Every state change also lands on the contact timeline (store/timeline.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import asyncpg

from gateway.store import timeline, webhook_events
from gateway.store.db import affected, columns
from gateway.store.webhook_events import QUESTION_ANSWERED, QUESTION_ASKED

WAITING: Final = ("open", "claimed", "escalated")

INSERT_BATCH = """
INSERT INTO questions (msisdn, shortcode, program, theme, inbound_id, body, via, asked_at,
                       sla_due)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                     $7::text[], $8::timestamptz[], $9::timestamptz[])
ON CONFLICT (inbound_id) DO NOTHING
RETURNING id
"""

_FIELDS = """q.id, q.msisdn, q.shortcode, q.program, q.theme, q.inbound_id, q.body, q.via,
    q.status, q.asked_at, q.sla_due, q.claimed_by, q.claimed_at, q.answered_at,
    q.escalated_at, q.escalated_to, q.channel, q.email, q.name, q.language,
    q.mail_inbound_id, q.web_message_id, q.round, q.voice_recording_id, q.closed_at,
    q.closed_reason"""

# A question by e-mail or from the form (migration 230): one row, its id.
INSERT_WRITTEN = """
INSERT INTO questions (channel, msisdn, shortcode, email, name, language, program, theme,
                       mail_inbound_id, web_message_id, body, via, asked_at, sla_due)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id
"""

# A question a caller recorded (migration 310): opened once per recording, however often
# the voice line says it is ready; (id, created).
# A question that cannot be answered ($11, the reason) is opened closed, as of when it
# was asked (migration 320).
OPEN_VOICE = """
WITH new AS (
    INSERT INTO questions (channel, msisdn, shortcode, language, program, theme,
                           voice_recording_id, body, via, asked_at, sla_due, status,
                           closed_at, closed_reason)
    VALUES ('voice', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
            CASE WHEN $11::text IS NULL THEN 'open' ELSE 'closed' END,
            CASE WHEN $11::text IS NULL THEN NULL ELSE $9::timestamptz END, $11)
    ON CONFLICT (voice_recording_id) DO NOTHING
    RETURNING id
)
SELECT id, true AS created FROM new
UNION ALL
SELECT id, false FROM questions WHERE voice_recording_id = $6
LIMIT 1
"""

# Its transcription arrived: the text replaces the placeholder ($2) it was opened with,
# and a classified theme ($4) moves it while no expert has claimed it.
TRANSCRIBE_VOICE = """
UPDATE questions
SET body = CASE WHEN body = $2 THEN $3 ELSE body END,
    theme = CASE WHEN $4::text IS NOT NULL AND claimed_by IS NULL THEN $4 ELSE theme END,
    via = CASE WHEN $4::text IS NOT NULL AND claimed_by IS NULL AND theme <> $4
               THEN 'classified' ELSE via END
WHERE voice_recording_id = $1
RETURNING id, theme
"""

LIST_QUEUE = f"""
SELECT {_FIELDS}, q.status NOT IN ('answered', 'closed') AND q.sla_due < $3 AS overdue
FROM questions q
WHERE q.theme = $1 AND ($2::text IS NULL OR q.program = $2) AND q.status = ANY($4::text[])
ORDER BY q.sla_due, q.id
LIMIT $5
"""

# Several themes at once (an expert's, or every theme when $1 is NULL): the inbox.
LIST_QUEUES = f"""
SELECT {_FIELDS}, q.status NOT IN ('answered', 'closed') AND q.sla_due < $3 AS overdue
FROM questions q
WHERE ($1::text[] IS NULL OR q.theme = ANY($1)) AND ($2::text IS NULL OR q.program = $2)
  AND q.status = ANY($4::text[])
ORDER BY q.sla_due, q.id
LIMIT $5
"""

# Questions closed without an answer (the inbox's list), newest first, since $3.
LIST_CLOSED = f"""
SELECT {_FIELDS}, false AS overdue
FROM questions q
WHERE ($1::text[] IS NULL OR q.theme = ANY($1)) AND ($2::text IS NULL OR q.program = $2)
  AND q.status = 'closed' AND q.closed_at >= $3
ORDER BY q.closed_at DESC, q.id DESC
LIMIT $4
"""

GET = f"SELECT {_FIELDS} FROM questions q WHERE q.id = $1"
GET_FOR_UPDATE = GET + " FOR UPDATE"

LIST_FOR_CONTACT = f"""
SELECT {_FIELDS}, a.answered_by, a.body AS answer, a.outbound_id
FROM questions q LEFT JOIN answers a ON a.question_id = q.id
WHERE q.msisdn = $1 AND q.shortcode = $2 ORDER BY q.id
"""

CLAIM = """
UPDATE questions SET status = 'claimed', claimed_by = $2, claimed_at = $3
WHERE id = $1 AND status IN ('open', 'escalated')
RETURNING id, msisdn, shortcode, theme, claimed_by, claimed_at
"""

RELEASE = """
UPDATE questions
SET status = CASE WHEN escalated_at IS NULL THEN 'open' ELSE 'escalated' END,
    claimed_by = NULL, claimed_at = NULL
WHERE id = $1 AND status = 'claimed' AND claimed_by = $2
RETURNING id
"""

# An admin takes a question back from an expert who is away: any holder.
RELEASE_ANY = """
UPDATE questions q
SET status = CASE WHEN q.escalated_at IS NULL THEN 'open' ELSE 'escalated' END,
    claimed_by = NULL, claimed_at = NULL
FROM (SELECT id, claimed_by FROM questions WHERE id = $1 FOR UPDATE) AS held
WHERE q.id = held.id AND q.status = 'claimed'
RETURNING held.claimed_by
"""

RECORD_ANSWER = """
WITH answer AS (
    INSERT INTO answers (question_id, answered_by, body, outbound_id, answered_at, round,
                         channel, mail_outbox_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
)
UPDATE questions
SET status = 'answered', answered_at = $5,
    claimed_by = coalesce(claimed_by, $2), claimed_at = coalesce(claimed_at, $5)
WHERE id = $1
"""

# The questions a reply's In-Reply-To / References ids name: our mail about the
# question (an acknowledgement, an answer), the mail that asked it, or a later
# message of its conversation. (message id, question id) pairs.
FIND_THREADS = """
SELECT o.message_id, o.question_id FROM mail_outbox o
WHERE o.message_id = ANY($1::text[]) AND o.question_id IS NOT NULL
UNION ALL
SELECT m.message_id, q.id FROM mail_inbound m JOIN questions q ON q.mail_inbound_id = m.id
WHERE m.message_id = ANY($1::text[])
UNION ALL
SELECT m.message_id, qm.question_id
FROM mail_inbound m JOIN question_messages qm ON qm.mail_inbound_id = m.id
WHERE m.message_id = ANY($1::text[])
"""

ADD_MESSAGE = """
INSERT INTO question_messages (question_id, channel, mail_inbound_id, body, received_at,
                               reopened)
VALUES ($1, 'email', $2, $3, $4, $5)
RETURNING id
"""

# An answered question the citizen wrote again about: back in its queue for its next
# round, with a fresh SLA; who answered before is in `answers`.
REOPEN = """
UPDATE questions
SET status = 'open', round = round + 1, answered_at = NULL, claimed_by = NULL,
    claimed_at = NULL, escalated_at = NULL, escalated_to = NULL, sla_due = $2
WHERE id = $1 AND status = 'answered'
RETURNING id
"""

# Where an e-mail answer threads: the citizen's latest mail on the question (a later
# message, else the one that asked it), else our latest mail about it (a form question's
# acknowledgement).
THREAD_TIP = """
SELECT message_id, references_ids FROM (
    SELECT m.message_id, m.references_ids, qm.received_at AS at, 1 AS rank
    FROM question_messages qm JOIN mail_inbound m ON m.id = qm.mail_inbound_id
    WHERE qm.question_id = $1 AND m.message_id IS NOT NULL
    UNION ALL
    SELECT m.message_id, m.references_ids, q.asked_at, 0
    FROM questions q JOIN mail_inbound m ON m.id = q.mail_inbound_id
    WHERE q.id = $1 AND m.message_id IS NOT NULL
    UNION ALL
    SELECT o.message_id, o.references_ids, o.created_at, -1
    FROM mail_outbox o WHERE o.question_id = $1
) tips
ORDER BY rank = -1, at DESC, rank DESC
LIMIT 1
"""

LIST_ANSWERS = """
SELECT round, answered_by, body, channel, outbound_id, mail_outbox_id, answered_at
FROM answers WHERE question_id = $1 ORDER BY round
"""

LIST_FOR_EMAIL = f"""
SELECT {_FIELDS}, a.answered_by, a.body AS answer, a.outbound_id
FROM questions q
LEFT JOIN LATERAL (SELECT * FROM answers WHERE question_id = q.id ORDER BY round DESC LIMIT 1)
     a ON true
WHERE q.email = $1 ORDER BY q.id
"""

LIST_MESSAGES = """
SELECT id, channel, mail_inbound_id, body, received_at, reopened
FROM question_messages WHERE question_id = $1 ORDER BY id
"""

# $2: {"program/theme": ["lead@example.org", ...]}
ESCALATE = """
WITH due AS (
    SELECT id FROM questions
    WHERE status = 'open' AND sla_due <= $1
    ORDER BY sla_due, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE questions q
SET status = 'escalated', escalated_at = $1,
    escalated_to = ARRAY(SELECT jsonb_array_elements_text(
        coalesce($2::jsonb -> (q.program || '/' || q.theme), '[]'::jsonb)))
FROM due WHERE q.id = due.id
RETURNING q.id, q.msisdn, q.shortcode, q.program, q.theme, q.body, q.asked_at, q.sla_due,
          q.escalated_to
"""

RESPONSE_TIMES = """
SELECT theme,
       count(*) AS asked,
       count(*) FILTER (WHERE status = 'answered') AS answered,
       count(*) FILTER (WHERE status NOT IN ('answered', 'closed')) AS waiting,
       count(*) FILTER (WHERE status NOT IN ('answered', 'closed') AND sla_due < $3)
           AS overdue,
       count(*) FILTER (WHERE status = 'answered' AND answered_at > sla_due) AS answered_late,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM answered_at - asked_at))
           FILTER (WHERE status = 'answered') AS median_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM answered_at - asked_at))
           FILTER (WHERE status = 'answered') AS p90_seconds
FROM questions
WHERE asked_at >= $1 AND asked_at < $3 AND ($2::text IS NULL OR program = $2)
GROUP BY theme
ORDER BY theme
"""


@dataclass(frozen=True, slots=True)
class NewQuestion:
    msisdn: str
    shortcode: str
    program: str
    theme: str
    inbound_id: int
    body: str
    via: str
    asked_at: datetime
    sla_due: datetime


@dataclass(frozen=True, slots=True)
class NewWrittenQuestion:
    """A question by e-mail (`mail_inbound_id`) or from the form (`web_message_id`)."""

    channel: Literal["email", "web"]
    program: str
    theme: str
    body: str
    via: str
    language: str
    asked_at: datetime
    sla_due: datetime
    email: str | None = None
    name: str | None = None
    msisdn: str | None = None  # a form post with a mobile number
    shortcode: str | None = None  # with it: the code its SMS go out from
    mail_inbound_id: int | None = None
    web_message_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewVoiceQuestion:
    """A question a caller recorded: its recording, and the number when it was not withheld."""

    voice_recording_id: int
    program: str
    theme: str
    body: str  # the transcription, or the program's placeholder until it comes
    via: str
    language: str
    asked_at: datetime
    sla_due: datetime
    msisdn: str | None  # None: withheld (no answer can be sent)
    shortcode: str | None  # with a number: the code its SMS answer goes out from
    closed_reason: str | None = None  # opened closed (no_number), not waiting


ClaimOutcome = Literal["claimed", "already_claimed", "already_answered", "not_found"]


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: ClaimOutcome
    question_id: int
    claimed_by: str | None = None  # the winner, when someone holds it
    claimed_at: datetime | None = None

    @property
    def won(self) -> bool:
        return self.outcome == "claimed"


async def insert_batch(conn: asyncpg.Connection, rows: Sequence[NewQuestion]) -> None:
    """In the MO's transaction; a redelivered MO (same inbound id) adds nothing."""
    if rows:
        made = await conn.fetch(INSERT_BATCH, *columns(
            rows, "msisdn", "shortcode", "program", "theme", "inbound_id", "body", "via",
            "asked_at", "sla_due"))
        await webhook_events.emit_questions(conn, QUESTION_ASKED, [r["id"] for r in made])


async def insert_written(conn: asyncpg.Connection, question: NewWrittenQuestion) -> int:
    """In the caller's transaction (the mail's routing, the form post); the new id."""
    q = question
    question_id: int = await conn.fetchval(
        INSERT_WRITTEN, q.channel, q.msisdn, q.shortcode, q.email, q.name, q.language,
        q.program, q.theme, q.mail_inbound_id, q.web_message_id, q.body, q.via, q.asked_at,
        q.sla_due)
    await webhook_events.emit_questions(conn, QUESTION_ASKED, [question_id])
    return question_id


async def open_voice(conn: asyncpg.Connection, question: NewVoiceQuestion) -> tuple[int, bool]:
    """In the caller's transaction; (question id, True when this call opened it)."""
    q = question
    row = await conn.fetchrow(OPEN_VOICE, q.msisdn, q.shortcode, q.language, q.program,
                              q.theme, q.voice_recording_id, q.body, q.via, q.asked_at,
                              q.sla_due, q.closed_reason)
    if row["created"]:
        await webhook_events.emit_questions(conn, QUESTION_ASKED, [row["id"]])
    return int(row["id"]), bool(row["created"])


async def transcribe_voice(conn: asyncpg.Connection, voice_recording_id: int, *,
                           placeholder: str, text: str | None,
                           theme: str | None) -> tuple[int, str] | None:
    """The transcription into the recording's question (see TRANSCRIBE_VOICE); (id, theme)."""
    row = await conn.fetchrow(TRANSCRIBE_VOICE, voice_recording_id, placeholder,
                              text if text else placeholder, theme)
    return None if row is None else (int(row["id"]), str(row["theme"]))


async def find_threads(conn: asyncpg.Connection,
                       message_ids: Sequence[str]) -> dict[str, int]:
    """message id -> the question it belongs to, for the ids a reply names."""
    if not message_ids:
        return {}
    rows = await conn.fetch(FIND_THREADS, list(message_ids))
    return {row["message_id"]: row["question_id"] for row in rows}


async def add_message(conn: asyncpg.Connection, question: asyncpg.Record, *,
                      mail_inbound_id: int, body: str, received_at: datetime,
                      sla_due: datetime) -> bool:
    """A citizen's reply joins the question; an answered one is reopened (True then).

    `question` is the row `lock_question` holds; `sla_due` is its next round's."""
    reopened = False
    if question["status"] == "answered":
        reopened = await conn.fetchval(REOPEN, question["id"], sla_due) is not None
    await conn.fetchval(ADD_MESSAGE, question["id"], mail_inbound_id, body, received_at,
                        reopened)
    await _log(conn, question, "question_reply", received_at, reopened=reopened)
    return reopened


async def list_messages(conn: asyncpg.Connection, question_id: int) -> list[asyncpg.Record]:
    """The later messages of a question's conversation, oldest first."""
    return list(await conn.fetch(LIST_MESSAGES, question_id))


async def thread_tip(conn: asyncpg.Connection,
                     question_id: int) -> tuple[str, list[str]] | None:
    """(Message-ID, its References) an e-mail answer to the question replies to."""
    row = await conn.fetchrow(THREAD_TIP, question_id)
    return None if row is None else (row["message_id"], list(row["references_ids"]))


async def list_answers(conn: asyncpg.Connection, question_id: int) -> list[asyncpg.Record]:
    """Every answer of the question, one per round, oldest first."""
    return list(await conn.fetch(LIST_ANSWERS, question_id))


async def list_for_email(conn: asyncpg.Connection, email: str) -> list[asyncpg.Record]:
    """Every question asked from one e-mail address, with its latest answer, oldest first."""
    return list(await conn.fetch(LIST_FOR_EMAIL, email))


async def list_queue(
    conn: asyncpg.Connection, theme: str, *, now: datetime, program: str | None = None,
    statuses: Sequence[str] = WAITING, limit: int = 100,
) -> list[asyncpg.Record]:
    """A theme's questions, most urgent (earliest SLA) first, each with `overdue`."""
    return list(await conn.fetch(LIST_QUEUE, theme, program, now, list(statuses), limit))


async def list_queues(
    conn: asyncpg.Connection, themes: Sequence[str] | None, *, now: datetime,
    program: str | None = None, statuses: Sequence[str] = WAITING, limit: int = 500,
) -> list[asyncpg.Record]:
    """`list_queue` over several themes (None: all), most urgent first."""
    return list(await conn.fetch(LIST_QUEUES, None if themes is None else list(themes),
                                 program, now, list(statuses), limit))


async def list_closed(
    conn: asyncpg.Connection, themes: Sequence[str] | None, *, since: datetime,
    program: str | None = None, limit: int = 50,
) -> list[asyncpg.Record]:
    """Questions closed without an answer since `since` in `themes` (None: all), newest first."""
    return list(await conn.fetch(LIST_CLOSED, None if themes is None else list(themes),
                                 program, since, limit))


async def get_question(conn: asyncpg.Connection, question_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(GET, question_id)


async def list_for_contact(
    conn: asyncpg.Connection, msisdn: str, shortcode: str
) -> list[asyncpg.Record]:
    """Every question of one contact with its answer and who gave it, oldest first."""
    return list(await conn.fetch(LIST_FOR_CONTACT, msisdn, shortcode))


async def claim(
    conn: asyncpg.Connection, question_id: int, expert: str, *, now: datetime
) -> ClaimResult:
    """Take a question; exactly one of several racing experts wins (see module doc)."""
    async with conn.transaction():
        row = await conn.fetchrow(CLAIM, question_id, expert, now)
        if row is not None:
            await _log(conn, row, "question_claimed", now, claimed_by=expert)
            return ClaimResult("claimed", question_id, expert, row["claimed_at"])
    current = await conn.fetchrow(GET, question_id)
    if current is None:
        return ClaimResult("not_found", question_id)
    if current["status"] == "answered":
        return ClaimResult("already_answered", question_id, current["claimed_by"],
                           current["claimed_at"])
    outcome: ClaimOutcome = "claimed" if current["claimed_by"] == expert else "already_claimed"
    return ClaimResult(outcome, question_id, current["claimed_by"], current["claimed_at"])


async def release(conn: asyncpg.Connection, question_id: int, expert: str) -> bool:
    """Give a claimed question back to the queue; only its holder can."""
    return await conn.fetchval(RELEASE, question_id, expert) is not None


async def release_any(conn: asyncpg.Connection, question_id: int) -> str | None:
    """Give a claimed question back whoever holds it (an admin's call); the holder, or None."""
    holder: str | None = await conn.fetchval(RELEASE_ANY, question_id)
    return holder


async def lock_question(conn: asyncpg.Connection, question_id: int) -> asyncpg.Record | None:
    """The question, locked until the caller's transaction ends (an answer is on its way)."""
    return await conn.fetchrow(GET_FOR_UPDATE, question_id)


async def record_answer(
    conn: asyncpg.Connection, question: asyncpg.Record, *, expert: str, text: str,
    outbound_id: int | None = None, mail_outbox_id: int | None = None, now: datetime,
) -> None:
    """`expert` answered `text`, queued as the SMS `outbound_id` or the e-mail
    `mail_outbox_id`: the answer row for the question's round, the question answered
    (and claimed by them, if it was open), and the contact's timeline."""
    channel = "sms" if outbound_id is not None else "email"
    await conn.execute(RECORD_ANSWER, question["id"], expert, text, outbound_id, now,
                       question["round"], channel, mail_outbox_id)
    sent = {"outbound_id": outbound_id} if outbound_id is not None else {
        "mail_outbox_id": mail_outbox_id}
    await _log(conn, question, "question_answered", now, answered_by=expert, **sent)
    await webhook_events.emit_questions(conn, QUESTION_ANSWERED, [question["id"]], at=now)


async def escalate_overdue(
    conn: asyncpg.Connection, leads: Mapping[tuple[str, str], Sequence[str]], *,
    now: datetime, limit: int = 500,
) -> list[asyncpg.Record]:
    """Open questions past their SLA -> escalated to their theme's leads; returns them.

    `leads` maps (program, theme) to the leads' e-mail addresses. In the caller's
    transaction when there is one (a savepoint), so the leads' notices
    (gateway/notify/sla_breach.py) commit with the escalation.
    """
    by_key = {f"{program}/{theme}": list(names) for (program, theme), names in leads.items()}
    async with conn.transaction():
        rows = list(await conn.fetch(ESCALATE, now, json.dumps(by_key), limit))
        await timeline.insert_batch(conn, [
            timeline.NewEvent(r["msisdn"], r["shortcode"], None, "question_escalated", {
                "question_id": r["id"], "theme": r["theme"], "sla_due": r["sla_due"],
                "escalated_to": list(r["escalated_to"])}, now)
            for r in rows if r["msisdn"] is not None
        ])
    return rows


async def response_times(
    conn: asyncpg.Connection, *, since: datetime, now: datetime, program: str | None = None
) -> list[asyncpg.Record]:
    """Per theme, for questions asked in [since, now): counts and answer times in seconds."""
    return list(await conn.fetch(RESPONSE_TIMES, since, program, now))


async def _log(
    conn: asyncpg.Connection, row: asyncpg.Record, name: str, now: datetime, **data: object
) -> None:
    """On the number's timeline; a question without a number is shown on its address's
    history by store/timeline.py instead."""
    if row["msisdn"] is None:
        return
    await timeline.insert_batch(conn, [timeline.NewEvent(
        row["msisdn"], row["shortcode"], None, name,
        {"question_id": row["id"], "theme": row["theme"], **data}, now)])


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

# The number's questions: its SMS ones, and form posts that gave only the number. A form
# question that also gave an e-mail address keeps its e-mail conversation and loses the
# number (an address's questions go with the person's erasure: EMAIL_ERASE_STEPS).
_NUMBER_ONLY = "msisdn = $1 AND email IS NULL"
DELETE_ANSWERS_OF = f"""
DELETE FROM answers WHERE question_id IN (SELECT id FROM questions WHERE {_NUMBER_ONLY})
"""
DELETE_QUESTIONS_OF = f"DELETE FROM questions WHERE {_NUMBER_ONLY}"
FORGET_NUMBER_OF = """
UPDATE questions SET msisdn = NULL, shortcode = NULL
WHERE msisdn = $1 AND email IS NOT NULL AND channel <> 'sms'
"""


async def delete_answers_of(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(DELETE_ANSWERS_OF, msisdn))


async def delete_questions_of(conn: asyncpg.Connection, msisdn: str) -> int:
    forgotten = affected(await conn.execute(FORGET_NUMBER_OF, msisdn))
    return forgotten + affected(await conn.execute(DELETE_QUESTIONS_OF, msisdn))


# An e-mail address's questions (the person's erasure, store/privacy.py
# EMAIL_ERASE_STEPS): those with no number go whole, with their later messages and
# answers; a form question that also gave a number keeps it and loses the address.
# The mail rows pointing at them let go first (mail_inbound, mail_outbox: their owners).
_ADDRESS_ONLY = "email = $1 AND msisdn IS NULL"
ADDRESS_QUESTIONS = f"SELECT id FROM questions WHERE {_ADDRESS_ONLY}"
DELETE_MESSAGES_OF_ADDRESS = f"""
DELETE FROM question_messages WHERE question_id IN ({ADDRESS_QUESTIONS})
"""
DELETE_ANSWERS_OF_ADDRESS = f"DELETE FROM answers WHERE question_id IN ({ADDRESS_QUESTIONS})"
DELETE_QUESTIONS_OF_ADDRESS = f"DELETE FROM questions WHERE {_ADDRESS_ONLY}"
FORGET_ADDRESS_OF = """
UPDATE questions SET email = NULL, name = NULL
WHERE email = $1 AND msisdn IS NOT NULL AND channel = 'web'
"""


async def erase_address(conn: asyncpg.Connection, address: str) -> int:
    """Delete the address's number-less questions (messages, answers); forget it on the rest."""
    await conn.execute(DELETE_MESSAGES_OF_ADDRESS, address)
    await conn.execute(DELETE_ANSWERS_OF_ADDRESS, address)
    forgotten = affected(await conn.execute(FORGET_ADDRESS_OF, address))
    return forgotten + affected(await conn.execute(DELETE_QUESTIONS_OF_ADDRESS, address))


# The questions recorded on withheld-number calls (retention: store/privacy.py
# `erase_withheld_calls`), with any answers; only voice questions with no number.
_WITHHELD_CALLS = """
    channel = 'voice' AND msisdn IS NULL AND voice_recording_id IN (
        SELECT r.id FROM voice_recordings r JOIN calls c ON c.call_sid = r.call_sid
        WHERE c.call_sid = ANY($1::text[]) AND c.msisdn IS NULL)
"""
DELETE_ANSWERS_OF_WITHHELD = f"""
DELETE FROM answers WHERE question_id IN (SELECT id FROM questions WHERE {_WITHHELD_CALLS})
"""
DELETE_QUESTIONS_OF_WITHHELD = f"DELETE FROM questions WHERE {_WITHHELD_CALLS}"


async def delete_of_withheld_calls(conn: asyncpg.Connection, call_sids: list[str]) -> int:
    """The voice questions of these withheld-number calls and their answers (none is
    expected: such a question is closed, there is no number to answer)."""
    await conn.execute(DELETE_ANSWERS_OF_WITHHELD, call_sids)
    return affected(await conn.execute(DELETE_QUESTIONS_OF_WITHHELD, call_sids))
