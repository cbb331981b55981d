"""The contact's timeline of engine events (consent, profile, dialogs...).

Append-only: rows are inserted in the MO's own transaction and never
updated, so the timeline is what was decided at the time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway import jsontext
from gateway.store.db import affected
from gateway.store.one_statement import Step

INSERT_BATCH = """
INSERT INTO contact_events (msisdn, shortcode, inbound_id, name, data, occurred_at)
SELECT k.msisdn, k.shortcode, k.inbound_id, k.name, k.data::jsonb, k.occurred_at
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[])
     AS k(msisdn, shortcode, inbound_id, name, data, occurred_at)
"""

LIST_FOR_CONTACT = """
SELECT id, inbound_id, name, data::text AS data, occurred_at
FROM contact_events WHERE msisdn = $1 AND shortcode = $2 ORDER BY id
"""


@dataclass(frozen=True, slots=True)
class NewEvent:
    msisdn: str
    shortcode: str
    inbound_id: int | None
    name: str
    data: dict[str, Any]
    occurred_at: datetime


async def insert_batch(conn: asyncpg.Connection, events: Sequence[NewEvent]) -> None:
    if events:
        step = insert_step(events)
        await conn.execute(step.sql, *step.args)


def insert_step(events: Sequence[NewEvent]) -> Step:
    """`insert_batch` as one step of a batch's single statement (store/one_statement.py)."""
    return Step(INSERT_BATCH, [
        [e.msisdn for e in events],
        [e.shortcode for e in events],
        [e.inbound_id for e in events],
        [e.name for e in events],
        [jsontext.dumps(e.data) for e in events],
        [e.occurred_at for e in events],
    ], rows=len(events))


async def list_for_contact(
    conn: asyncpg.Connection, msisdn: str, shortcode: str
) -> list[dict[str, Any]]:
    rows = await conn.fetch(LIST_FOR_CONTACT, msisdn, shortcode)
    return [
        {"id": r["id"], "inbound_id": r["inbound_id"], "name": r["name"],
         "data": json.loads(r["data"]), "occurred_at": r["occurred_at"]}
        for r in rows
    ]


LAST_EVENT_AT = """
SELECT max(occurred_at) FROM contact_events
WHERE msisdn = $1 AND shortcode = $2 AND name = $3 AND occurred_at > $4
"""


async def last_event_at(conn: asyncpg.Connection, msisdn: str, shortcode: str, name: str, *,
                        since: datetime) -> datetime | None:
    """When the contact's latest `name` event after `since` occurred (None: none since)."""
    found: datetime | None = await conn.fetchval(LAST_EVENT_AT, msisdn, shortcode, name, since)
    return found


# Everything one number sent and received on one short code, and everything
# decided about it, in one ordered list: what support staff and (later) the
# contact-centre page read. MTs carry their delivery status; calls to the voice line
# (migration 300) are `call` items, one per step (body: start, keys, timeout...,
# data: the key pressed, the branch reached, the duration at the end). Expert exchanges
# are events here too: question_asked (engine), question_claimed, question_answered
# (with who answered and the answer's MT) and question_escalated (store/questions.py).
FULL_TIMELINE = """
SELECT at, kind, ref, body, status, data::text AS data FROM (
    SELECT received_at AS at, 'mo' AS kind, id AS ref, body, NULL::text AS status,
           NULL::jsonb AS data, 0 AS tie
    FROM inbound WHERE msisdn = $1 AND shortcode = $2
    UNION ALL
    SELECT created_at, 'mt', id, body, status, NULL, 2
    FROM outbound WHERE msisdn = $1 AND shortcode = $2
    UNION ALL
    SELECT occurred_at, 'event', id, name, NULL, data, 1
    FROM contact_events WHERE msisdn = $1 AND shortcode = $2
    UNION ALL
    SELECT e.occurred_at, 'call', e.id, e.kind, NULL,
           jsonb_strip_nulls(jsonb_build_object(
               'call_sid', e.call_sid, 'step', e.step, 'digits', e.digits, 'branch', e.branch,
               'duration_seconds', CASE WHEN e.kind = 'status' THEN c.duration_seconds END,
               'end_status', CASE WHEN e.kind = 'status' THEN c.end_status END)), 1
    FROM call_events e JOIN calls c ON c.call_sid = e.call_sid
    WHERE c.msisdn = $1 AND c.shortcode = $2
) AS t
ORDER BY at, tie, ref
"""


async def full_timeline(
    conn: asyncpg.Connection, msisdn: str, shortcode: str
) -> list[dict[str, Any]]:
    """MOs, MTs (with status), engine events and voice calls for one contact, oldest first."""
    rows = await conn.fetch(FULL_TIMELINE, msisdn, shortcode)
    return [
        {"at": r["at"], "kind": r["kind"], "ref": r["ref"], "body": r["body"],
         "status": r["status"], "data": json.loads(r["data"]) if r["data"] else None}
        for r in rows
    ]


# One person's history across channels ($1 its numbers on short code $2, NULL: on every
# short code, $3 its e-mail addresses): the SMS rows as above, and the e-mail in (its
# subject and kind; never the text here: the mail's own page shows it) and out (subject,
# purpose, send status). `address` says which of the person's addresses each row is about,
# `shortcode` which short code an SMS or call row went through (NULL for e-mail and form).
#
# Written questions (by e-mail or the form, migration 230) have no contact_events row
# unless they gave a number on this short code (store/questions.py `_log`), so their
# life is read from their own tables as `event` rows of the same names, with no `ref`
# (they are not contact_events rows): question_asked for each, and question_answered /
# question_reply for those whose events are not already on a number listed here. A form
# post is `form_in` (its theme and what routing made of it; its text is the question's).
# A mail in and a form post name the question they opened or joined (`question_id`), so
# the page can show a written question's whole thread as one conversation.
PERSON_TIMELINE = """
WITH written AS (
    SELECT id, theme, channel, via, asked_at,
           CASE WHEN email = ANY($3::text[]) THEN email ELSE msisdn END AS address,
           coalesce(msisdn = ANY($1::text[]) AND ($2::text IS NULL OR shortcode = $2), false)
               AS logged
    FROM questions
    WHERE channel <> 'sms' AND (email = ANY($3::text[]) OR msisdn = ANY($1::text[]))
)
SELECT at, kind, ref, body, status, data::text AS data, address, shortcode FROM (
    SELECT received_at AS at, 'mo' AS kind, id AS ref, body, NULL::text AS status,
           NULL::jsonb AS data, msisdn AS address, shortcode, 0 AS tie
    FROM inbound WHERE msisdn = ANY($1::text[]) AND ($2::text IS NULL OR shortcode = $2)
    UNION ALL
    SELECT created_at, 'mt', id, body, status,
           CASE WHEN donation_id IS NOT NULL
                THEN jsonb_build_object('donation_id', donation_id) END,
           msisdn, shortcode, 2
    FROM outbound WHERE msisdn = ANY($1::text[]) AND ($2::text IS NULL OR shortcode = $2)
    UNION ALL
    SELECT occurred_at, 'event', id, name, NULL, data, msisdn, shortcode, 1
    FROM contact_events
    WHERE msisdn = ANY($1::text[]) AND ($2::text IS NULL OR shortcode = $2)
    UNION ALL
    SELECT received_at, 'mail_in', id, subject, NULLIF(kind, 'normal'),
           jsonb_build_object('kind', kind, 'never_answer', never_answer,
                              'question_id', question_id,
                              'attachments', (SELECT count(*) FROM mail_attachments a
                                              WHERE a.mail_id = m.id)),
           lower(from_address), NULL, 0
    FROM mail_inbound m WHERE lower(from_address) = ANY($3::text[])
    UNION ALL
    SELECT created_at, 'mail_out', id, subject, status,
           jsonb_build_object('purpose', purpose, 'question_id', question_id,
                              'sent_at', sent_at),
           lower(to_address), NULL, 2
    FROM mail_outbox WHERE lower(to_address) = ANY($3::text[])
    UNION ALL
    SELECT e.occurred_at, 'call', e.id, e.kind, NULL,
           jsonb_strip_nulls(jsonb_build_object(
               'call_sid', e.call_sid, 'step', e.step, 'digits', e.digits, 'branch', e.branch,
               'duration_seconds', CASE WHEN e.kind = 'status' THEN c.duration_seconds END,
               'end_status', CASE WHEN e.kind = 'status' THEN c.end_status END)),
           c.msisdn, c.shortcode, 1
    FROM call_events e JOIN calls c ON c.call_sid = e.call_sid
    WHERE c.msisdn = ANY($1::text[]) AND ($2::text IS NULL OR c.shortcode = $2)
    UNION ALL
    SELECT received_at, 'form_in', id, NULL, NULL,
           jsonb_build_object('theme', theme, 'route', route, 'campaign_box', campaign_box,
                              'question_id', (SELECT q.id FROM questions q
                                              WHERE q.web_message_id = w.id)),
           CASE WHEN email = ANY($3::text[]) THEN email ELSE msisdn END, NULL, 0
    FROM web_messages w WHERE email = ANY($3::text[]) OR msisdn = ANY($1::text[])
    UNION ALL
    SELECT asked_at, 'event', NULL, 'question_asked', NULL,
           jsonb_build_object('question_id', id, 'theme', theme, 'channel', channel,
                              'via', via),
           address, NULL, 1
    FROM written
    UNION ALL
    SELECT a.answered_at, 'event', NULL, 'question_answered', NULL,
           jsonb_build_object('question_id', w.id, 'theme', w.theme,
                              'answered_by', a.answered_by, 'round', a.round,
                              'channel', a.channel, 'mail_outbox_id', a.mail_outbox_id,
                              'outbound_id', a.outbound_id),
           w.address, NULL, 1
    FROM answers a JOIN written w ON w.id = a.question_id WHERE NOT w.logged
    UNION ALL
    SELECT qm.received_at, 'event', NULL, 'question_reply', NULL,
           jsonb_build_object('question_id', w.id, 'theme', w.theme,
                              'reopened', qm.reopened, 'mail_inbound_id', qm.mail_inbound_id),
           w.address, NULL, 1
    FROM question_messages qm JOIN written w ON w.id = qm.question_id WHERE NOT w.logged
) AS t
ORDER BY at, tie, kind, ref
"""


async def person_timeline(
    conn: asyncpg.Connection, numbers: Sequence[str], shortcode: str | None,
    emails: Sequence[str],
) -> list[dict[str, Any]]:
    """`full_timeline` for every number of a person (calls included), with its e-mail in
    and out, its form posts and its written questions' lives, oldest first; each row
    names its `address` (and `shortcode`). A person with no number (an address that only
    wrote) passes `numbers` empty; `shortcode` None reads every short code."""
    rows = await conn.fetch(PERSON_TIMELINE, list(numbers), shortcode, list(emails))
    return [
        {"at": r["at"], "kind": r["kind"], "ref": r["ref"], "body": r["body"],
         "status": r["status"], "data": json.loads(r["data"]) if r["data"] else None,
         "address": r["address"], "shortcode": r["shortcode"]}
        for r in rows
    ]


# The same shape, limited to the threads of some of the contact's questions: each
# question's MO, the replies to it (the acknowledgement), the expert's answer MT,
# and the question_* events naming it. What an expert sees (services/fences.py): the
# questions of their themes, nothing else the contact ever sent or was sent.
QUESTION_THREADS = """
WITH q AS (
    SELECT id, inbound_id FROM questions
    WHERE msisdn = $1 AND shortcode = $2 AND id = ANY($3::bigint[])
)
SELECT at, kind, ref, body, status, data::text AS data FROM (
    SELECT received_at AS at, 'mo' AS kind, id AS ref, body, NULL::text AS status,
           NULL::jsonb AS data, 0 AS tie
    FROM inbound WHERE id IN (SELECT inbound_id FROM q)
    UNION ALL
    SELECT created_at, 'mt', id, body, status, NULL, 2
    FROM outbound
    WHERE msisdn = $1 AND shortcode = $2
      AND (in_reply_to IN (SELECT inbound_id FROM q)
           OR id IN (SELECT a.outbound_id FROM answers a WHERE a.question_id IN (
                         SELECT id FROM q)))
    UNION ALL
    SELECT occurred_at, 'event', id, name, NULL, data, 1
    FROM contact_events
    WHERE msisdn = $1 AND shortcode = $2 AND name LIKE 'question\\_%'
      AND ((data->>'question_id') IN (SELECT id::text FROM q)
           OR (name = 'question_asked' AND inbound_id IN (SELECT inbound_id FROM q)))
) AS t
ORDER BY at, tie, ref
"""


async def question_threads(
    conn: asyncpg.Connection, msisdn: str, shortcode: str, question_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """`full_timeline` reduced to these questions' threads (ids of other contacts match
    nothing), oldest first."""
    rows = await conn.fetch(QUESTION_THREADS, msisdn, shortcode, list(question_ids))
    return [
        {"at": r["at"], "kind": r["kind"], "ref": r["ref"], "body": r["body"],
         "status": r["status"], "data": json.loads(r["data"]) if r["data"] else None}
        for r in rows
    ]


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

DELETE_EVENTS_OF = "DELETE FROM contact_events WHERE msisdn = $1"


async def delete_events_of(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(DELETE_EVENTS_OF, msisdn))
