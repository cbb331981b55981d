"""Per-number advisory locks: one number's MOs and its MTs' last check, across instances.

Why: several gateway instances share the database and the SMSC spreads one
supporter's texts over all their binds. Each instance's lanes keep a
number's texts in order only within that instance; across instances two
transactions could read the same contact and the later commit would write
back a state that never saw the other's STOP. And the outbox's opt-out
check at claim time can pass moments before a STOP commits.

So every number has one PostgreSQL advisory lock (namespace NUMBER_LOCK_SPACE,
key `number_key`):
- an MO transaction takes it exclusively before it reads the numbers'
  contacts, and holds it to COMMIT: one number's MOs are decided one
  transaction at a time, whatever instance received them. The lane's batch
  read takes the locks itself, as its first step (store/lane_reads.py
  `read_batch(lock=True)`, the first statement after `transaction`'s BEGIN);
  `lock_numbers` does the same for a transaction that reads otherwise;
- the outbox takes it shared, without waiting, and reads the numbers'
  opt-outs after taking it (`gate_check`, one call of the function of
  migration 030: a single statement's snapshot would predate its locks),
  hands the submit_sm to the socket, and only then lets go.

A STOP's transaction therefore either committed before the outbox's read
(which then sees it and suppresses the MT) or waits for the lock until the
submit_sm has left; its deliver_sm_resp follows its COMMIT.

Deadlocks cannot form: MO transactions take their locks in one statement in
ascending key order, and the outbox never waits for a lock (a number being
decided right now is simply tried again a moment later).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress

import asyncpg

NUMBER_LOCK_SPACE = 0x4E554D42  # "NUMB": the advisory-lock namespace of phone numbers

# unnest yields the array in order and the target list runs row by row, so
# the locks are taken in the (ascending) order of the array.
LOCK_NUMBERS = "SELECT count(pg_advisory_xact_lock($1, k)) FROM unnest($2::int4[]) AS t(k)"

RELEASE_SHARED = """
SELECT count(*) FROM unnest($2::int4[]) AS t(k) WHERE pg_advisory_unlock_shared($1, t.k)
"""

GATE_CHECK = "SELECT msisdn, shortcode, opted_out FROM send_gate_check($1, $2, $3, $4, $5)"


def number_key(msisdn: str) -> int:
    """The number's lock key: a signed 32-bit CRC, the same in every process."""
    value = zlib.crc32(msisdn.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def lock_keys(msisdns: Iterable[str]) -> list[int]:
    """The numbers' lock keys, each once, in the ascending order every taker uses."""
    return sorted({number_key(m) for m in msisdns})


async def lock_numbers(conn: asyncpg.Connection, msisdns: Iterable[str]) -> None:
    """Inside a transaction: wait for, and hold until it ends, the numbers' locks."""
    keys = lock_keys(msisdns)
    if keys:
        await conn.fetchval(LOCK_NUMBERS, NUMBER_LOCK_SPACE, keys)


@asynccontextmanager
async def transaction(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """An MO transaction: BEGIN; COMMIT when the block ends, ROLLBACK when it raises.

    Its first statement must take the numbers' locks before anything about them
    is read: the lane's batch read does (store/lane_reads.py, `lock=True`).
    """
    try:
        await conn.execute("BEGIN")
        yield
    except BaseException:
        if conn.is_in_transaction() and not conn.is_closed():
            # a connection too broken to roll back is the pool's to drop: the
            # original error is the one the caller must see
            with suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


async def gate_check(
    conn: asyncpg.Connection, release: Counter[int], pairs: Sequence[tuple[str, str]]
) -> tuple[set[str], set[tuple[str, str]]]:
    """Release `release` (keys, times), share-lock the pairs' numbers that are free now.

    Returns (numbers whose lock was taken, pairs of those that are opted out).
    Each distinct number key taken is held once; release it once.
    """
    rows = await conn.fetch(
        GATE_CHECK, NUMBER_LOCK_SPACE, list(release.elements()),
        [number_key(p[0]) for p in pairs], [p[0] for p in pairs], [p[1] for p in pairs])
    locked = {r["msisdn"] for r in rows}
    return locked, {(r["msisdn"], r["shortcode"]) for r in rows if r["opted_out"]}


async def release_numbers(conn: asyncpg.Connection, keys: Counter[int]) -> None:
    """Let go of shared session locks, each key as many times as it was taken."""
    flat = list(keys.elements())
    if flat:
        await conn.fetchval(RELEASE_SHARED, NUMBER_LOCK_SPACE, flat)


async def release_all(conn: asyncpg.Connection) -> None:
    """Before a connection that held shared locks goes back to the pool."""
    await conn.execute("SELECT pg_advisory_unlock_all()")
