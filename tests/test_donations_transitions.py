"""PostgreSQL enforces billing/ledger.py's transition table: the same rows, every pair tried.

Why on the real database: the trigger (migration 100) is the rule every
writer meets (the MO pipeline, the billing service, webhooks, staff), so
"the ledger allows it" must mean "the database records it", and nothing
else. Each state a donation can reach (the shortest legal history to it,
for each method) is built on a fresh donation, then every event kind is
tried on it: the database must record the event exactly when the ledger
accepts it, leave the donation in the ledger's status, and otherwise
change nothing (whether it drops the event or refuses it loudly). The same
is checked with the history and the event in one statement, where the
trigger cannot read the status from the donation row (its projection runs
at the statement's end).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from gateway.billing.ledger import (
    METHOD_OF,
    STATUSES,
    TRANSITIONS,
    DonationEvent,
    DonationState,
    LedgerError,
    apply,
    derive_state,
)
from gateway.store import donations as store
from gateway.store import inbound as inbound_store
from gateway.store.donations import NewDonation, NewDonationEvent
from gateway.store.inbound import NewInbound
from tests.support.donation_histories import AMOUNT, next_events, shortest_histories

NOW = datetime(2024, 5, 15, 15, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Probe:
    method: str
    history: list[DonationEvent]
    event: DonationEvent

    @property
    def before(self) -> DonationState:
        return derive_state(self.history)

    @property
    def after(self) -> DonationState | None:
        """The ledger's state after the event; None when the ledger refuses it."""
        try:
            return apply(self.before, self.event)
        except LedgerError:
            return None

    def describe(self) -> str:
        return f"{self.method} {self.before.status} + {self.event.kind} " \
               f"({self.event.amount_cents}) after {[e.kind for e in self.history]}"


def probes() -> list[Probe]:
    found = []
    for method in ("carrier", "card"):
        for history in shortest_histories(method, NOW).values():
            found += [Probe(method, history, step)
                      for step in next_events(len(history), NOW)]
    return found


async def new_donations(conn: asyncpg.Connection, methods: Sequence[str]) -> list[int]:
    ids = await inbound_store.IdReserve("inbound_id_seq", block=len(methods)).take(
        conn, len(methods))
    await inbound_store.insert_batch(
        conn, [NewInbound("+12125550123", "12345", "GIVE 10", 0, 1, NOW)] * len(methods), ids)
    await store.insert_donations(conn, [
        NewDonation(i, "+12125550123", "12345", "rise", "Rise Up PAC", method, AMOUNT, "USD",
                    NOW, NOW.replace(day=16)) for i, method in zip(ids, methods, strict=True)])
    return ids


def row(donation_id: int, e: DonationEvent) -> NewDonationEvent:
    return NewDonationEvent(donation_id, e.kind, e.occurred_at, e.amount_cents, e.currency,
                            e.data)


async def test_the_database_holds_the_ledgers_table_row_for_row(pool: asyncpg.Pool) -> None:
    found = {(r["status"], r["kind"]): (r["next_status"], r["method"])
             for r in await pool.fetch("SELECT * FROM donation_transitions")}
    wanted = {pair: (after, METHOD_OF.get(pair[1])) for pair, after in TRANSITIONS.items()}
    lines = "\n".join(f"    ('{s}', '{k}', '{n}', {repr(m) if m else 'NULL'}),"
                      for (s, k), (n, m) in sorted(wanted.items()))
    assert found == wanted, "ledger.py and donation_transitions differ; a new migration " \
                            "holds the table as ledger.py has it:\n" + lines


async def test_every_event_on_every_status_is_recorded_exactly_when_the_ledger_allows_it(
    pool: asyncpg.Pool,
) -> None:
    tried = probes()
    assert {p.before.status for p in tried} == STATUSES  # every status the table can hold
    raised: set[int] = set()
    async with pool.acquire() as conn, conn.transaction():
        # Apart: the history in one statement, the event in the next.
        ids = await new_donations(conn, [p.method for p in tried])
        await store.insert_events(conn, [row(i, e) for i, p in zip(ids, tried, strict=True)
                                         for e in p.history])
        recorded = {}
        for n, (donation_id, probe) in enumerate(zip(ids, tried, strict=True)):
            try:
                async with conn.transaction():
                    recorded[donation_id] = bool(
                        await store.insert_events(conn, [row(donation_id, probe.event)]))
            except asyncpg.CheckViolationError:
                recorded[donation_id] = False
                raised.add(n)
        await check(conn, ids, tried, recorded)
        # Together: the history and the event in one statement (not those refused loudly,
        # which would abort the statement and its history with it).
        together = [p for n, p in enumerate(tried) if n not in raised]
        ids = await new_donations(conn, [p.method for p in together])
        inserted = await store.insert_events(conn, [
            row(i, e) for i, p in zip(ids, together, strict=True) for e in [*p.history, p.event]])
        counts = {i: 0 for i in ids}
        for e in inserted:
            counts[e.donation_id] += 1
        await check(conn, ids, together, {
            i: counts[i] == len(p.history) + 1 for i, p in zip(ids, together, strict=True)})
    assert raised  # the loud refusals are still there (a charge without a YES...)


async def check(conn: asyncpg.Connection, ids: list[int], tried: list[Probe],
                recorded: dict[int, bool]) -> None:
    rows = {d.id: d for d in await store.list_donations(conn, ids)}
    wrong = []
    for donation_id, probe in zip(ids, tried, strict=True):
        expected = probe.after or probe.before
        got = rows[donation_id]
        if (recorded[donation_id], got.status, got.confirmed_at) != (
                probe.after is not None, expected.status, expected.confirmed_at):
            wrong.append(f"{probe.describe()}: recorded={recorded[donation_id]} "
                         f"status={got.status}, ledger: {probe.after is not None} "
                         f"{expected.status}")
    assert wrong == [], "\n".join(wrong)
