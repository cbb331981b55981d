"""The outbox: every MT is a row before it is sent; this module is its one writer.

Every statement that changes an MT (`outbound`), its parts
(`outbound_segments`) or the receipts about them (`delivery_receipts`,
`pending_receipts`) is here, so an MT's states and what moves it between
them read in one place (tests/test_table_owners.py keeps it so). The
sections: what is queued (replies, billed MTs, answers); the claim; the
sender's results; the lease release; receipts and the settling of unsure
sends; a broadcast's rows; erasure. Other modules read these tables freely.

Claiming uses `FOR UPDATE SKIP LOCKED` and a lease, so several gateway
processes can drain one outbox without sending a row twice while both are
alive. A lease outlives a dead process only until it expires; the row then
waits, unsure, for a receipt proving the SMSC took it (store/unsure.py), and
is sent again only if none comes (docs/architecture.md, the delivery guarantees).

Opt-out is checked in the claim itself (send time), not when the row was
queued: a supporter who texts STOP while a message waits never receives it.
Only the opt-out confirmation (`compliance`) passes an opted-out number.

Billed MTs (`donation_id` set, migration 006) are the exception to
at-least-once: sending one twice could charge the supporter twice, so a
billed row whose send was cut off (lease expired, process died) is never
requeued; it is marked 'failed' with a `billed_unknown` error, and finance
reconciles it against the aggregator's settlement lines. The sender and the
lease release take that rule from one table, gateway/resend_rules.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from gateway.resend_rules import CUT_OFF_CAUSE, Action, Ending, rule_for
from gateway.store import webhook_events
from gateway.store.audience import SqlParams
from gateway.store.db import affected, columns
from gateway.store.one_statement import Step
from gateway.store.receipts import NewReceipt
from gateway.store.zone_keys import ZONE_KEY

# -- rows: what is queued -----------------------------------------------------------------

# Replies and compliance messages first, broadcasts with what is left.
PRIORITY_REPLY = 0
PRIORITY_BROADCAST = 1
PRIORITIES = tuple(range(10))  # 0..9, enforced by a CHECK; an empty one costs one index probe


@dataclass(frozen=True, slots=True)
class NewOutbound:
    msisdn: str
    shortcode: str
    body: str
    priority: int
    compliance: bool
    in_reply_to: int | None
    not_before: datetime


@dataclass(frozen=True, slots=True)
class NewBilledMt:
    msisdn: str
    shortcode: str
    body: str
    donation_id: int
    service_type: str
    tlvs: Mapping[int, bytes]
    not_before: datetime
    in_reply_to: int | None = None
    priority: int = 0


INSERT_BATCH = """
INSERT INTO outbound (msisdn, shortcode, body, priority, compliance, in_reply_to, not_before)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int2[], $5::bool[], $6::bigint[],
                     $7::timestamptz[])
"""

INSERT_BILLED = """
INSERT INTO outbound (msisdn, shortcode, body, priority, compliance, in_reply_to, not_before,
                      donation_id, service_type, billing_tlvs)
VALUES ($1, $2, $3, $4, false, $5, $6, $7, $8, $9::jsonb)
ON CONFLICT (donation_id) WHERE donation_id IS NOT NULL DO NOTHING
RETURNING id
"""

# An expert's answer (gateway/services/answers.py): a reply's priority, but no
# `in_reply_to`: an answer two days later must not count in the MO round-trip
# latency; the `answers` row links it instead.
INSERT_ANSWER = """
INSERT INTO outbound (msisdn, shortcode, body, priority, compliance, not_before)
VALUES ($1, $2, $3, 0, false, $4)
RETURNING id
"""

COUNT_BY_STATUS = "SELECT status, count(*) AS n FROM outbound GROUP BY status"

NEXT_DUE = "SELECT min(not_before) FROM outbound WHERE indexed_status = 'queued'"

# A lane batch's replies inside its one statement (store/one_statement.py): the
# consent ledger's step reads their ids from this step, named REPLIES_STEP.
#
# A reply the lane hands straight to its own sender (`handed`, pipeline/reply_handoff.py)
# is written already claimed: 'sending' under the sender's lease, its first attempt,
# as `claim` would leave it. The sender never claims it, so it costs no claim statement
# and no update of its own; the lease means the same as a claim's (a crash releases it).
REPLIES_STEP = "replies"
INSERT_REPLIES = """
INSERT INTO outbound (msisdn, shortcode, body, priority, compliance, in_reply_to, not_before,
                      status, lease_owner, lease_until, attempts)
SELECT r.msisdn, r.shortcode, r.body, r.priority, r.compliance, r.in_reply_to, r.not_before,
       CASE WHEN r.handed THEN 'sending' ELSE 'queued' END,
       CASE WHEN r.handed THEN $9::text END,
       CASE WHEN r.handed THEN now() + make_interval(secs => $10::float8) END,
       CASE WHEN r.handed THEN 1 ELSE 0 END
FROM unnest($1::text[], $2::text[], $3::text[], $4::int2[], $5::bool[], $6::bigint[],
            $7::timestamptz[], $8::bool[])
     AS r(msisdn, shortcode, body, priority, compliance, in_reply_to, not_before, handed)
RETURNING id, in_reply_to, msisdn, shortcode, body, priority, compliance,
          lease_owner IS NOT NULL AS handed
"""
# What the lane's one statement returns (one_statement.fetch): the handed replies.
HANDED_REPLIES = f"""
SELECT id, in_reply_to, msisdn, shortcode, body, priority, compliance
FROM {REPLIES_STEP} WHERE handed
"""


@dataclass(frozen=True, slots=True)
class Lease:
    """Who takes handed replies, and for how long the lease holds before a release."""

    owner: str
    seconds: float


async def insert_batch(conn: asyncpg.Connection, rows: Sequence[NewOutbound]) -> None:
    if rows:
        await conn.execute(INSERT_BATCH, *_reply_columns(rows))


def replies_step(rows: Sequence[NewOutbound], handed: Sequence[bool] = (),
                 lease: Lease | None = None) -> Step:
    """`insert_batch` as one step of a lane batch's single statement, ids returned;
    `handed[i]`: row i is written claimed under `lease` (HANDED_REPLIES reads them back)."""
    if any(handed) and lease is None:
        raise ValueError("handed replies need a lease")
    flags = [*handed, *[False] * (len(rows) - len(handed))]
    return Step(INSERT_REPLIES, [*_reply_columns(rows), flags,
                                 lease.owner if lease else None,
                                 lease.seconds if lease else None],
                name=REPLIES_STEP, rows=len(rows))


def handed_messages(rows: Sequence[asyncpg.Record],
                    received: Mapping[int, datetime]) -> list[ClaimedMessage]:
    """HANDED_REPLIES's rows as the sender's messages; `received`: MO id -> received_at."""
    return [
        ClaimedMessage(r["id"], r["msisdn"], r["shortcode"], r["body"], r["priority"], 1,
                       received.get(r["in_reply_to"]), compliance=r["compliance"])
        for r in rows
    ]


def _reply_columns(rows: Sequence[NewOutbound]) -> list[list[Any]]:
    return columns(rows, "msisdn", "shortcode", "body", "priority", "compliance", "in_reply_to",
                   "not_before")


async def insert_billed(conn: asyncpg.Connection, mt: NewBilledMt) -> int | None:
    """Queue a donation's billed MT; None when that donation already has one."""
    tlvs = json.dumps({str(tag): value.hex() for tag, value in mt.tlvs.items()})
    found: int | None = await conn.fetchval(
        INSERT_BILLED, mt.msisdn, mt.shortcode, mt.body, mt.priority, mt.in_reply_to,
        mt.not_before, mt.donation_id, mt.service_type, tlvs)
    return found


async def insert_answer(
    conn: asyncpg.Connection, msisdn: str, shortcode: str, body: str, *, not_before: datetime
) -> int:
    """Queue an expert's answer (the sender splits it into parts); its outbound id."""
    outbound_id: int = await conn.fetchval(INSERT_ANSWER, msisdn, shortcode, body, not_before)
    return outbound_id


async def insert_for_call(
    conn: asyncpg.Connection, msisdn: str, shortcode: str, body: str, *, not_before: datetime
) -> int:
    """Queue a text a voice caller asked for (gateway/voice/): no MO to reply to, so queued as
    an answer is (a reply's priority, no `in_reply_to`); its outbound id."""
    return await insert_answer(conn, msisdn, shortcode, body, not_before=not_before)


# Which of these (number, code) pairs had an MT queued since a time: the
# unknown-short-code answer is sent once a day at most (pipeline/decide.py).
ANSWERED_SINCE = """
SELECT DISTINCT o.msisdn, o.shortcode
FROM unnest($1::text[], $2::text[]) AS k(msisdn, shortcode)
JOIN outbound o ON o.msisdn = k.msisdn AND o.shortcode = k.shortcode
WHERE o.created_at >= $3
"""


async def answered_since(conn: asyncpg.Connection, pairs: Sequence[tuple[str, str]],
                         since: datetime) -> set[tuple[str, str]]:
    """The (msisdn, shortcode) pairs of `pairs` that had an MT queued at or after `since`."""
    if not pairs:
        return set()
    rows = await conn.fetch(ANSWERED_SINCE, [p[0] for p in pairs], [p[1] for p in pairs], since)
    return {(r["msisdn"], r["shortcode"]) for r in rows}


async def refresh_statistics(conn: asyncpg.Connection) -> None:
    """ANALYZE the outbox, after a bulk insert (a broadcast's rows).

    Why: a claim prepared while the outbox was small keeps a plan that walks
    every queued row, and inserting rows invalidates no plan; ANALYZE does, on
    every connection, and the new plan probes the due rows by index. It
    samples a bounded number of rows (about 30,000), so it stays well under a
    second on a million-row outbox, and blocks no reads or writes.
    """
    await conn.execute("ANALYZE outbound")


async def count_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    return {r["status"]: r["n"] for r in await conn.fetch(COUNT_BY_STATUS)}


async def next_due(conn: asyncpg.Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval(NEXT_DUE)
    return value


# -- the claim: due rows leased to one sender ---------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    id: int
    msisdn: str
    shortcode: str
    body: str
    priority: int
    attempts: int
    mo_received_at: datetime | None
    donation_id: int | None = None  # a billed MT: sent at most once
    service_type: str = ""
    tlvs: Mapping[int, bytes] = field(default_factory=dict)
    compliance: bool = False  # an opt-out confirmation: sent even to an opted-out number


# Claim and suppress in one statement: rows for opted-out numbers go straight
# to 'suppressed' and are not returned. Candidates come from one bounded range
# scan per priority (index outbound_due_idx), so rows deferred to the morning
# are never walked; a broadcast's rows go only while it is 'running', and only
# inside their quiet-hours window (`not_after`): a row whose window closed
# unsent waits for BroadcastTicker.redefer_expired to move it to the next one.
#
# A row under a frequency cap (`subject_cap` per `subject_period_s` on its
# subject, migration 011) is checked against what this number was actually
# sent on that subject: when the cap is reached, the row stays queued with
# not_before moved to the moment the oldest counted send leaves the period
# (returned as `held`, not sent). Two capped rows for one number and subject
# in one claim: only the first is taken; the next claim counts it.
#
# Several instances claiming at once: the count is read from the statement's
# snapshot, which cannot see another claim still running, so two claims could
# both count two sends and both send a third. So a claim first locks the
# numbers of the capped rows it may take (LOCK_CAPPED, one statement, session
# advisory locks) and takes capped rows only for those (`$5`); the claim
# statement that follows has a new snapshot, which sees every claim that held
# those locks before. A number another claim holds is left for the next one.
# The statement is the function `claim_outbound` (migrations/531_claim_plan.sql),
# whose SET clauses keep its cached plan to the due index and primary-key probes
# however large the queue grew since the plan was made (docs/performance.md).
# Its steps: take up to $1 due rows per priority from the due index (not past
# not_after, a broadcast's rows only while it runs, capped rows only for the
# numbers locked in $5); lock them (SKIP LOCKED) in priority order, noting the
# opted-out ones (suppressed unless compliance); keep one capped row per number
# and subject; re-time a capped row whose cap is reached; mark the rest
# 'sending' under lease $2 for $3 seconds.
CLAIM = "SELECT * FROM claim_outbound($1, $2, $3, $4::int2[], $5::text[])"

CAPPED_LOCK_SPACE = 0x53554243  # advisory lock namespace of capped numbers ("SUBC")

_LOCK_CAPPED = """
SELECT coalesce(array_agg(c.msisdn), '{}') FROM (
    SELECT DISTINCT o.msisdn FROM outbound o
    WHERE o.indexed_status = 'queued' AND o.subject_cap IS NOT NULL AND o.not_before <= now()
      AND (o.not_after IS NULL OR o.not_after > now())
    LIMIT $1
) AS c
WHERE %s($2, hashtext(c.msisdn))
"""

# Outside a transaction the claim commits at once and the locks are released
# after it; inside one (a caller's), they must last until that commits.
LOCK_CAPPED = _LOCK_CAPPED % "pg_try_advisory_lock"
LOCK_CAPPED_IN_TRANSACTION = _LOCK_CAPPED % "pg_try_advisory_xact_lock"

UNLOCK_CAPPED = """
SELECT count(*) FROM unnest($1::text[]) AS m(msisdn)
WHERE pg_advisory_unlock($2, hashtext(m.msisdn))
"""


async def claim(
    conn: asyncpg.Connection, *, limit: int, owner: str, lease_seconds: float
) -> tuple[list[ClaimedMessage], int]:
    """Return (messages to send, how many were suppressed for opt-out).

    Rows held back by a frequency cap are neither: they wait, re-timed. The
    capped numbers' locks outlive the claim's commit, whether the claim commits
    on its own (the sender) or with a caller's transaction.
    """
    if conn.is_in_transaction():
        locked: list[str] = await conn.fetchval(
            LOCK_CAPPED_IN_TRANSACTION, limit, CAPPED_LOCK_SPACE)
        rows = await conn.fetch(CLAIM, limit, owner, lease_seconds, list(PRIORITIES), locked)
    else:
        locked = await conn.fetchval(LOCK_CAPPED, limit, CAPPED_LOCK_SPACE)
        try:
            rows = await conn.fetch(CLAIM, limit, owner, lease_seconds, list(PRIORITIES), locked)
        finally:
            if locked:  # (a connection that broke took its session's locks with it)
                await conn.fetchval(UNLOCK_CAPPED, locked, CAPPED_LOCK_SPACE)
    suppressed = sum(1 for r in rows if r["suppress"])
    # UPDATE ... RETURNING keeps no order: send replies first, oldest first
    rows.sort(key=lambda r: (r["priority"], r["not_before"], r["id"]))
    claimed = [
        ClaimedMessage(
            r["id"], r["msisdn"], r["shortcode"], r["body"], r["priority"], r["attempts"],
            r["mo_received_at"], r["donation_id"], r["service_type"] or "",
            _tlvs_from_json(r["billing_tlvs"]), r["compliance"],
        )
        for r in rows
        if not r["suppress"] and not r["held"]
    ]
    return claimed, suppressed


def _tlvs_from_json(raw: str | None) -> dict[int, bytes]:
    if not raw:
        return {}
    return {int(tag): bytes.fromhex(value) for tag, value in json.loads(raw).items()}


# -- send results: what the sender saw ----------------------------------------------------

# One statement (so no transaction round trips): the segments' SMSC ids and the
# messages' new status. A receipt that beat its submit_sm_resp is applied by the
# receipt sweep (`apply_receipts` below).
# The statement is the function `mark_submitted_rows` (migrations/532_send_result_plans.sql,
# its plan pinned to key probes: docs/performance.md): store each segment's SMSC id (a
# resend's segments replace the old ones), then mark the messages still 'sending'
# submitted at $6 (default: the database's now), their leases ended.
MARK_SUBMITTED = """
SELECT mark_submitted_rows($1::bigint[], $2::int2[], $3::text[], $4::bigint[], $5::int2[],
                           $6::timestamptz)
"""

# A caller with its own clock (the demo's story): the rows were made when the story says,
# not when the seed ran, so a timeline shows a reply beside the MO it answers.
# (least() skips a NULL: a message with no final receipt keeps none.)
BACKDATE = """
UPDATE outbound SET created_at = least(created_at, $2),
       final_at = CASE WHEN final_at IS NOT NULL THEN least(final_at, $2) END
WHERE id = ANY($1::bigint[])
"""

# Opted out between the claim and the send (pipeline/send_gate.py): never sent. The
# statements of this and the next two are functions whose plans stay key probes
# (migrations/533_send_failure_plans.sql, docs/performance.md).
MARK_SUPPRESSED = """
SELECT suppress_rows($1::bigint[])
"""

# Back to the queue after a delay, with the error; an `unsure` row may have reached
# the SMSC (its send was cut off after the submit_sm went out): it is marked so, from
# the moment it could have left ($5 seconds ago).
REQUEUE = """
SELECT requeue_rows($1::bigint[], $2::float8[], $3::text[], $4::bool[], $5::float8)
"""

# An `unsure` failed row is a billed MT cut off mid-send: never resent, but its
# receipt may still settle it (store/unsure.py).
MARK_FAILED = """
SELECT fail_rows($1::bigint[], $2::text[], $3::bool[], $4::float8)
"""


async def backdate(conn: asyncpg.Connection, ids: Sequence[int], at: datetime) -> None:
    """Rows made, and finally receipted, at `at` by a caller's own clock (the demo's
    story), where they say later: a billed MT's final receipt dates its gift's billing."""
    await conn.execute(BACKDATE, list(ids), at)


async def mark_submitted(
    conn: asyncpg.Connection, results: Sequence[tuple[int, Sequence[str]]], *,
    at: datetime | None = None,
) -> None:
    """Record each message's segment ids; `results` is (outbound id, SMSC ids in order).

    `at`: when they were sent, for a caller with its own clock (the demo's story);
    by default the database's now.
    """
    if not results:
        return
    seg_ids: list[int] = []
    seg_seq: list[int] = []
    seg_msg: list[str] = []
    for outbound_id, message_ids in results:
        for seq, message_id in enumerate(message_ids, start=1):
            seg_ids.append(outbound_id)
            seg_seq.append(seq)
            seg_msg.append(message_id)
    await conn.execute(
        MARK_SUBMITTED, seg_ids, seg_seq, seg_msg,
        [r[0] for r in results], [len(r[1]) for r in results], at,
    )


async def mark_suppressed(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """Claimed rows whose number opted out before their submit_sm left: never sent."""
    if ids:
        await conn.execute(MARK_SUPPRESSED, list(ids))


async def requeue(
    conn: asyncpg.Connection, items: Sequence[tuple[int, float, str, bool]], *,
    lease_seconds: float,
) -> None:
    """Back to the queue after (id, delay, error, unsure); unsure: it may have reached the SMSC."""
    if items:
        await conn.execute(
            REQUEUE, [i[0] for i in items], [i[1] for i in items], [i[2] for i in items],
            [i[3] for i in items], lease_seconds,
        )


async def mark_failed(
    conn: asyncpg.Connection, items: Sequence[tuple[int, str, bool]], *, lease_seconds: float
) -> None:
    """Fail (id, error, unsure) rows; unsure: a billed MT that may have reached the SMSC."""
    if items:
        await conn.execute(MARK_FAILED, [i[0] for i in items], [i[1] for i in items],
                           [i[2] for i in items], lease_seconds)


# -- lease release: sends a process left unfinished ---------------------------------------

# After a crash: our own leases are certainly orphaned; other instances' only once expired.
# Any of them may have reached the SMSC, so each row gets the resend rule of a send cut
# off (gateway/resend_rules.py), one per kind of row (`r`: ordinary, billed). Scalar
# parameters, not arrays: an array's type costs a fresh connection a lookup. An ordinary row
# waits the unsure hold (its `delay`) for a receipt proving it taken (store/unsure.py)
# before it is sent again; a billed MT is never resent (a second copy could charge twice).
_RELEASE = """
UPDATE outbound o
SET status = r.status,
    final_at = CASE WHEN r.status = 'failed' THEN now() END,
    last_error = r.error,
    unsure_since = coalesce(o.unsure_since, o.lease_until - make_interval(secs => $2)),
    not_before = CASE WHEN r.status = 'queued'
                      THEN greatest(o.not_before, now() + make_interval(secs => r.delay))
                      ELSE o.not_before END,
    lease_owner = NULL, lease_until = NULL
FROM (VALUES (false, $3::text, $4::text, $5::float8),
             (true, $6::text, $7::text, $8::float8)) AS r(billed, status, error, delay)
WHERE r.billed = (o.donation_id IS NOT NULL) AND o.indexed_status = 'sending'
"""

RELEASE_LEASES = _RELEASE + "  AND (o.lease_owner = $1 OR o.lease_until < now())"

# While running: other instances' expired leases only (ours may be waiting for a bind).
RELEASE_OTHERS_EXPIRED = _RELEASE + """
  AND o.lease_until < now() AND o.lease_owner IS DISTINCT FROM $1"""

# While running, after a claim broke off with its connection: a claim that
# committed but whose answer was lost leased rows the sender never saw, and
# so never sent (not even a billed one). `$2`: the rows the sender holds.
RELEASE_UNKNOWN_CLAIMS = """
UPDATE outbound SET status = 'queued', lease_owner = NULL, lease_until = NULL
WHERE indexed_status = 'sending' AND lease_owner = $1 AND NOT (id = ANY($2::bigint[]))
"""


async def release_leases(
    conn: asyncpg.Connection, owner: str, *, lease_seconds: float, hold_seconds: float,
    others_expired_only: bool = False,
) -> int:
    """At start-up, `owner`'s leases and every expired one; while running, others' expired."""
    sql = RELEASE_OTHERS_EXPIRED if others_expired_only else RELEASE_LEASES
    values = [value for rule in release_values(hold_seconds) for value in rule]
    return affected(await conn.execute(sql, owner, lease_seconds, *values))


def release_values(hold_seconds: float) -> list[tuple[str, str, float]]:
    """(new status, last_error, delay) of a cut-off send by the resend rules: an ordinary
    MT's, then a billed one's, as `_RELEASE` reads them."""
    values = []
    for billed in (False, True):
        rule = rule_for(Ending.CUT_OFF, billed=billed)
        status = "queued" if rule.requeues else "failed"
        delay = hold_seconds if rule.action is Action.RESEND else 0.0
        values.append((status, rule.message(CUT_OFF_CAUSE), delay))
    return values


async def release_unknown_claims(
    conn: asyncpg.Connection, owner: str, *, known: Sequence[int]
) -> int:
    """Back to the queue: `owner`'s leased rows other than `known` (claimed, answer lost)."""
    return affected(await conn.execute(RELEASE_UNKNOWN_CLAIMS, owner, list(known)))


# -- receipts: the SMSC's word on each segment, rolled up to its message ------------------

# A receipt may arrive before the submit_sm_resp that tells us its message id
# (the SMSC's two paths race). So receipts are always stored first and applied
# at once when their segment is known; a final receipt that matches no open
# segment is parked in `pending_receipts`, and a periodic sweep applies it once
# the segment's id is recorded (pipeline/receipts.py). Only final receipts
# change a segment; intermediate ones are kept for history. The receipt tables
# are written here, with the segments and messages they settle, because the
# hot path is one statement that writes all four.


# A message's status from its segments' final receipts, one failed part failing it, is
# the SQL function rolled_up_status (migration 560), which both statements below use.

# The hot path in one statement: store the receipts, close the segments they
# name, and roll those segments up to their messages. All parts of a data-
# modifying statement see one snapshot, so the roll-up combines the segments
# closed here (from `closed`) with the message's other segments (from the table).
# The statement is the function `record_receipt_rows` (migration 560): what it does is
# above; a function because its SET clauses keep its cached plan a probe per receipt
# (docs/performance.md, "Plans that stay index probes as the tables grow").
RECORD_RECEIPTS = """
SELECT outbound_id AS id, new_status AS status
FROM record_receipt_rows($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[])
"""

# Apply final receipts to still-open segments, then roll segment states up to
# their messages. Returns the outbound ids whose status changed.
APPLY_RECEIPTS = """
WITH applied AS (
    UPDATE outbound_segments s
    SET status = r.stat, error_code = r.error_code, final_at = r.received_at
    FROM (
        SELECT DISTINCT ON (smsc_message_id) smsc_message_id, stat, error_code, received_at
        FROM delivery_receipts
        WHERE final AND smsc_message_id = ANY($1::text[])
        ORDER BY smsc_message_id, id
    ) r
    WHERE s.smsc_message_id = r.smsc_message_id AND s.status = 'submitted'
    RETURNING s.outbound_id
)
SELECT DISTINCT outbound_id FROM applied
"""

ROLL_UP = """
UPDATE outbound o
SET status = agg.new_status, final_at = now()
FROM (
    SELECT outbound_id, rolled_up_status(array_agg(status)) AS new_status, count(*) AS n
    FROM outbound_segments
    WHERE outbound_id = ANY($1::bigint[])
    GROUP BY outbound_id
) agg
WHERE o.id = agg.outbound_id AND agg.new_status IS NOT NULL
  AND o.status = 'submitted' AND agg.n = o.segments
RETURNING o.id, o.status
"""

DELETE_PENDING_RECEIPTS = """
DELETE FROM pending_receipts
WHERE smsc_message_id = ANY($1::text[]) OR received_at < now() - make_interval(secs => $2)
"""

# An unsure row (store/unsure.py reads them): only rows some parked receipt could be
# about. A billed MT cut off mid-send is failed at once (never resent), but its
# receipt still settles it, and the donation with it, for as long as receipts are kept.
UNSURE = """
o.unsure_since IS NOT NULL
AND (o.indexed_status = 'queued'
     OR (o.indexed_status = 'failed' AND o.donation_id IS NOT NULL
         AND o.unsure_since > now() - interval '2 days'))
"""

# Receipts proved an unsure row taken: it becomes 'submitted' with the receipts' ids
# as its segments, so they apply as if its submit_sm_resp had been read. Only while
# still unsure: a claim that took it meanwhile (its hold ended) wins.
SETTLE_UNSURE = """
WITH settled AS (
    UPDATE outbound o
    SET status = 'submitted', segments = k.segments, submitted_at = now(), final_at = NULL,
        lease_owner = NULL, lease_until = NULL, unsure_since = NULL,
        last_error = 'settled by a receipt: the SMSC had taken the cut-off send'
    FROM unnest($1::bigint[], $2::int2[]) AS k(id, segments)
    WHERE o.id = k.id AND """ + UNSURE + """
    RETURNING o.id
)
INSERT INTO outbound_segments (outbound_id, seq, smsc_message_id)
SELECT s.id, s.seq, s.smsc_message_id
FROM unnest($3::bigint[], $4::int2[], $5::text[]) AS s(id, seq, smsc_message_id)
WHERE s.id IN (SELECT id FROM settled)
ON CONFLICT (outbound_id, seq) DO UPDATE
    SET smsc_message_id = EXCLUDED.smsc_message_id, status = 'submitted', final_at = NULL
RETURNING outbound_id, smsc_message_id
"""

DELETE_PARKED = "DELETE FROM pending_receipts WHERE smsc_message_id = ANY($1::text[])"


async def record_receipts(
    conn: asyncpg.Connection, receipts: Sequence[NewReceipt]
) -> list[tuple[int, str]]:
    """Store receipts and apply the final ones; return (outbound id, new status) changed."""
    if not receipts:
        return []
    rows = await conn.fetch(
        RECORD_RECEIPTS,
        *columns(receipts, "smsc_message_id", "stat", "error_code", "final", "number",
                 "text_head"),
    )
    await webhook_events.emit_messages(conn, [r["id"] for r in rows])
    return [(r["id"], r["status"]) for r in rows]


async def apply_receipts(
    conn: asyncpg.Connection, smsc_message_ids: Sequence[str]
) -> list[tuple[int, str]]:
    """Apply stored final receipts for these ids; return (outbound id, new status) changed."""
    if not smsc_message_ids:
        return []
    touched = [r["outbound_id"] for r in await conn.fetch(APPLY_RECEIPTS, list(smsc_message_ids))]
    if not touched:
        return []
    rolled = await conn.fetch(ROLL_UP, touched)
    await webhook_events.emit_messages(conn, [r["id"] for r in rolled])
    return [(r["id"], r["status"]) for r in rolled]


async def delete_pending_receipts(
    conn: asyncpg.Connection, smsc_message_ids: Sequence[str], *, older_than_seconds: float
) -> None:
    """Parked receipts now applied (`smsc_message_ids`), and every one too old to match."""
    await conn.execute(DELETE_PENDING_RECEIPTS, list(smsc_message_ids), older_than_seconds)


async def settle_unsure(
    conn: asyncpg.Connection, settled: Sequence[tuple[int, Sequence[str]]]
) -> set[int]:
    """Settle (outbound id, part ids) rows still unsure and apply their receipts.

    One transaction. Returns the ids settled (a row claimed meanwhile is not).
    """
    if not settled:
        return set()
    ids, seqs, message_ids = [], [], []
    for outbound_id, parts in settled:
        for seq, message_id in enumerate(parts, start=1):
            ids.append(outbound_id)
            seqs.append(seq)
            message_ids.append(message_id)
    async with conn.transaction():
        rows = await conn.fetch(
            SETTLE_UNSURE, [s[0] for s in settled], [len(s[1]) for s in settled], ids, seqs,
            message_ids,
        )
        applied = [r["smsc_message_id"] for r in rows]
        await apply_receipts(conn, applied)
        await conn.execute(DELETE_PARKED, applied)
    return {r["outbound_id"] for r in rows}


# -- a broadcast's rows -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BroadcastRows:
    """What one planned batch did: contacts planned, rows made, the last number planned,
    and, when some contact's zone key was not timed (`complete` false), those keys."""

    scanned: int
    inserted: int
    last: str | None
    complete: bool
    untimed: list[list[Any]]  # [zone key, timezones, region, country, prefix, sample]
    over_frequency: int = 0  # planned contacts left out: at the promised frequency
    # (number, its link tokens, its A/B variant or None) of each inserted row with links
    linked: list[tuple[str, list[str], int | None]] = field(default_factory=list)


#
# A batch of a broadcast's rows from its plan (store/broadcasts.py `PLANNED_BATCH`:
# msisdn, body, its tracked links' `link_tokens`, its A/B `variant`, window, cap,
# `untimed`, a zone key the caller has not timed, and `over_frequency`, a contact left
# out for the program's promised frequency). `linked`: each inserted row's number, link
# tokens and variant.
# All or none: a plan with an untimed contact inserts nothing and names the keys.
INSERT_BROADCAST_ROWS = """
WITH planned AS ({planned}),
ready AS (
    SELECT NOT EXISTS (SELECT 1 FROM planned WHERE untimed IS NOT NULL) AS ok
),
inserted AS (
    INSERT INTO outbound (msisdn, shortcode, body, priority, broadcast_id, not_before, not_after,
                          subject, subject_cap, subject_period_s, variant)
    SELECT p.msisdn, {shortcode}, p.body, {priority}, {broadcast}, p.not_before, p.not_after,
           {subject}, p.subject_cap, p.subject_period_s, p.variant
    FROM planned p
    WHERE (SELECT ok FROM ready) AND NOT p.over_frequency
    ORDER BY p.msisdn
    ON CONFLICT (broadcast_id, msisdn) WHERE broadcast_id IS NOT NULL DO NOTHING
    RETURNING msisdn
),
-- The inserted rows that carry links, with their tokens. Grouped, not joined: the
-- planner believes each CTE holds one row, and a join it plans on that belief scans
-- one CTE once per row of the other (10,000 x 10,000 rows, 11 s a batch).
linked AS (
    SELECT u.msisdn, (array_agg(u.tokens) FILTER (WHERE u.tokens IS NOT NULL))[1] AS tokens,
           max(u.variant) AS variant
    FROM (SELECT p.msisdn, to_jsonb(p.link_tokens) AS tokens, p.variant FROM planned p
          WHERE cardinality(p.link_tokens) > 0
          UNION ALL
          SELECT i.msisdn, NULL, NULL FROM inserted i) u
    GROUP BY u.msisdn
    HAVING count(*) = 2
)
SELECT (SELECT count(*) FROM planned) AS scanned,
       (SELECT count(*) FROM inserted) AS inserted,
       (SELECT count(*) FROM planned WHERE over_frequency) AS over_frequency,
       (SELECT max(msisdn) FROM planned) AS last,
       (SELECT ok FROM ready) AS complete,
       (SELECT coalesce(jsonb_agg(u.untimed || jsonb_build_array(u.sample)), '[]'::jsonb)::text
        FROM (SELECT untimed, min(msisdn) AS sample FROM planned
              WHERE untimed IS NOT NULL GROUP BY untimed) u) AS untimed,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(l.msisdn, l.tokens, l.variant)),
                        '[]'::jsonb)::text
        FROM linked l) AS linked
"""

# Rows of a cancelled broadcast that no sender holds are never sent; a row
# already leased ('sending') finishes its send.
CANCEL_BROADCAST_ROWS = """
UPDATE outbound SET status = 'cancelled', final_at = clock_timestamp()
WHERE broadcast_id = $1 AND status = 'queued'
"""

# Queued rows whose quiet-hours window closed unsent: their zone key's next window.
REDEFER_BROADCAST_ROWS = f"""
UPDATE outbound o SET not_before = t.not_before, not_after = t.not_after
FROM contacts c,
     unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS t(zone_key, not_before, not_after)
WHERE o.broadcast_id = $1 AND o.status = 'queued' AND o.not_after <= $5
  AND c.msisdn = o.msisdn AND c.shortcode = o.shortcode AND {ZONE_KEY} = t.zone_key
"""


async def insert_broadcast_rows(
    conn: asyncpg.Connection, planned: str, params: SqlParams, *, broadcast_id: int,
    shortcode: str, subject: str,
) -> BroadcastRows:
    """Insert the rows `planned` (a SELECT over `params`) for a broadcast, or none of them."""
    query = INSERT_BROADCAST_ROWS.format(
        planned=planned, priority=PRIORITY_BROADCAST,
        shortcode=params.add(shortcode, "text"), broadcast=params.add(broadcast_id, "int8"),
        subject=params.add(subject, "text"))
    row = await conn.fetchrow(query, *params.values)
    return BroadcastRows(row["scanned"], row["inserted"], row["last"], row["complete"],
                         json.loads(row["untimed"]), row["over_frequency"],
                         [(m, t, v) for m, t, v in json.loads(row["linked"])])


async def cancel_broadcast_rows(conn: asyncpg.Connection, broadcast_id: int) -> int:
    """A cancelled broadcast's waiting rows are never sent; how many there were."""
    return affected(await conn.execute(CANCEL_BROADCAST_ROWS, broadcast_id))


async def redefer_broadcast_rows(
    conn: asyncpg.Connection,
    broadcast_id: int,
    timing: Mapping[str, tuple[datetime, datetime]],
    now: datetime,
) -> int:
    """Give expired queued rows their zone key's next window; returns how many moved."""
    keys = list(timing)
    return affected(await conn.execute(
        REDEFER_BROADCAST_ROWS, broadcast_id, keys, [timing[k][0] for k in keys],
        [timing[k][1] for k in keys], now,
    ))


# -- erasure (store/privacy.py runs these in its one transaction) -------------------------

# Waiting MTs first: an erased number is sent nothing more.
SUPPRESS_WAITING_OF = """
UPDATE outbound SET status = 'suppressed', final_at = clock_timestamp(),
                    last_error = 'erased on request'
WHERE msisdn = $1 AND status = 'queued'
"""

PSEUDONYMIZE = "UPDATE outbound SET msisdn = $2, body = '' WHERE msisdn = $1"

# held in SMPP form, the number without its '+' (see migration 015)
DELETE_PENDING_RECEIPTS_TO = "DELETE FROM pending_receipts WHERE number = ltrim($1, '+')"


async def suppress_waiting_of(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(SUPPRESS_WAITING_OF, msisdn))


async def pseudonymize(conn: asyncpg.Connection, msisdn: str, pseudonym: str) -> int:
    return affected(await conn.execute(PSEUDONYMIZE, msisdn, pseudonym))


async def delete_pending_receipts_to(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(DELETE_PENDING_RECEIPTS_TO, msisdn))
