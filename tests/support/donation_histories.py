"""Legal donation histories, walked from billing/ledger.py's table, for tests to replay.

The ledger says what may happen; these walks list it: every history up to a
depth (`legal_histories`), or the shortest one to each distinct state
(`shortest_histories`), which is how a test reaches every status the
donations table can hold before trying an event on it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta

from gateway.billing.ledger import EVENT_KINDS, DonationEvent, DonationState, LedgerError, apply

AMOUNT = 1000  # every history's gift, in cents
REFUNDS = (400, 600)  # the refunds tried: some add up to the gift, some would pass it
StateKey = tuple[str, bool, int, bool]  # status, confirmed, refunded cents, disputed


def next_events(after: int, start: datetime) -> Iterator[DonationEvent]:
    """Every event kind once (refunds once per amount), as the `after`-th event."""
    at = start + timedelta(minutes=after)
    for kind in sorted(EVENT_KINDS):
        for amount in (REFUNDS if kind == "refunded" else (None,)):
            yield DonationEvent(kind, at, amount, "USD" if amount else None)


def first_event(method: str, start: datetime) -> DonationEvent:
    return DonationEvent("requested", start, AMOUNT, "USD", {"method": method})


def legal_histories(method: str, depth: int, start: datetime
                    ) -> Iterator[list[DonationEvent]]:
    """Every history the ledger accepts up to `depth` events (amounts kept few)."""
    def walk(state: DonationState, history: list[DonationEvent]
             ) -> Iterator[list[DonationEvent]]:
        yield history
        if len(history) >= depth:
            return
        for step in next_events(len(history), start):
            try:
                after = apply(state, step)
            except LedgerError:
                continue
            yield from walk(after, [*history, step])

    first = first_event(method, start)
    yield from walk(apply(None, first), [first])


def key_of(state: DonationState) -> StateKey:
    return (state.status, state.confirmed_at is not None, state.refunded_cents, state.disputed)


def shortest_histories(method: str, start: datetime) -> dict[StateKey, list[DonationEvent]]:
    """The shortest legal history to each state a `method` donation can reach."""
    first = first_event(method, start)
    found = {key_of(apply(None, first)): [first]}
    queue = deque([(apply(None, first), [first])])
    while queue:
        state, history = queue.popleft()
        for step in next_events(len(history), start):
            try:
                after = apply(state, step)
            except LedgerError:
                continue
            if key_of(after) not in found:
                found[key_of(after)] = [*history, step]
                queue.append((after, [*history, step]))
    return found
