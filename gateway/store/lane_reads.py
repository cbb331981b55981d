"""What an MO lane batch reads before deciding, in one statement: one round trip.

Why one statement: the engine needs, per (number, short code) of the batch,
the contact's state, the saved card's last four digits (GIVE offers the
express flow) and whether a donation waits for the donor's details; the
lane needs the unread acknowledgements its MOs may repeat (pipeline/redelivery.py).
Read as four statements, that was four round trips per batch for what is,
almost always, a contact row and three empty index probes (docs/performance.md).
The donations held for details are then read in full only for the keys that
have one (store/donations.py `held_for_details`), which is rare.

It also takes the batch's numbers' locks, when asked, before it reads
(store/number_locks.py): the lock statement keeps one plan inside the
function, where a simple query with BEGIN was planned on every batch.

Read-only: each table keeps its one writer (tests/test_table_owners.py).
The plan (one index probe per key and table, never a scan) is pinned by
tests/test_plans_outlive_growth.py: a plan cached while the tables were tiny
still probes them once they have grown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from gateway import jsontext
from gateway.store import number_locks
from gateway.store.inbound import Unacked

# The statement itself is the function `lane_read` (migrations 530 and 541): first the
# batch's numbers' locks ($1 namespace, $2 sorted keys: store/number_locks.py), then
# per (number, short code) the contact's state, the newest saved card ($5), a details
# hold ($6); then, as rows of their own, the unread acknowledgements the batch's MOs
# may repeat ($7 digests, received since $8: pipeline/redelivery.py). A function,
# because its SET clauses pin its cached plan to index probes per key (a plan made
# while the tables were tiny would otherwise read them whole for every batch as they
# grow), and because its read takes a snapshot of its own after the locks are held
# (docs/performance.md).
READ_BATCH = """
SELECT * FROM lane_read($1, $2::int4[], $3::text[], $4::text[], $5, $6, $7::bytea[], $8)
"""

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class BatchRead:
    """Per key: the stored state (absent: a new contact), the saved card, a details hold."""

    states: dict[Key, tuple[bool, dict[str, Any]]] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)  # msisdn -> last4
    held: list[Key] = field(default_factory=list)  # keys with a donation held for details
    unacked: list[Unacked] = field(default_factory=list)  # in id order


async def read_batch(conn: asyncpg.Connection, keys: Sequence[Key], *, cards: bool,
                     holds: bool, digests: Sequence[bytes] = (),
                     since: datetime | None = None, lock: bool = False) -> BatchRead:
    """The contacts' states, (when asked) their saved cards and details holds, and the
    unread acknowledgements of these digests received since `since`.

    `lock`: first take the keys' numbers' locks for the rest of the transaction
    (store/number_locks.py), then read what was committed before they were free.
    """
    found = BatchRead()
    if not keys and not digests:
        return found
    lock_keys = number_locks.lock_keys(k[0] for k in keys) if lock else []
    rows = await conn.fetch(READ_BATCH, number_locks.NUMBER_LOCK_SPACE, lock_keys,
                            [k[0] for k in keys], [k[1] for k in keys],
                            cards, holds, sorted(set(digests)), since)
    for r in rows:
        if r["unacked_id"] is not None:
            found.unacked.append(
                Unacked(r["unacked_id"], r["digest"], r["received_at"], r["inbound_id"]))
            continue
        key = (r["msisdn"], r["shortcode"])
        if r["state"] is not None:
            found.states[key] = (r["opted_out"], jsontext.loads(r["state"]))
        if r["last4"] is not None:
            found.cards[r["msisdn"]] = r["last4"]
        if r["held"]:
            found.held.append(key)
    found.unacked.sort(key=lambda u: u.id)
    return found
