"""The donation ledger: its transition table, exhaustively, and its money invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.billing.ledger import (
    CHARGE_ATTEMPTS,
    EVENT_KINDS,
    OUTCOMES,
    PAID,
    TRANSITIONS,
    DonationEvent,
    DonationState,
    LedgerError,
    apply,
    derive_state,
)

T0 = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)


def ev(kind: str, minute: int = 0, amount: int | None = None, currency: str | None = None,
       **data: Any) -> DonationEvent:
    if amount is not None and currency is None:
        currency = "USD"
    return DonationEvent(kind, T0 + timedelta(minutes=minute), amount, currency, data)


def requested(method: str = "carrier", amount: int = 1000) -> DonationEvent:
    return ev("requested", 0, amount, method=method)


def test_a_carrier_gift_from_request_to_bill() -> None:
    state = derive_state([
        requested(), ev("confirmation_sent", 0), ev("confirmed", 5),
        ev("billing_submitted", 6), ev("billed", 7, 1000),
    ])
    assert (state.status, state.outcome, state.method) == ("billed", "billed", "carrier")
    assert state.confirmed_at == T0 + timedelta(minutes=5)  # the legal date of receipt
    assert state.outcome_at == T0 + timedelta(minutes=7)  # settlement, kept apart
    assert state.charge_attempted


def test_a_card_gift_with_authentication_then_refunds_and_a_dispute() -> None:
    events = [requested("card", 2500), ev("confirmation_sent"), ev("confirmed", 1),
              ev("charge_requested", 2), ev("requires_action", 3), ev("charged", 9, 2500)]
    state = derive_state(events)
    assert (state.status, state.outcome, state.amount_cents) == ("charged", "charged", 2500)
    state = apply(state, ev("refunded", 20, 1000))
    assert (state.status, state.refunded_cents, state.outcome) == ("partially_refunded", 1000,
                                                                    "charged")
    state = apply(state, ev("disputed", 21, 1000))  # a dispute may be for part of it
    state = apply(state, ev("refunded", 22, 1500))
    assert (state.status, state.refunded_cents, state.disputed) == ("refunded", 2500, True)


def test_a_checkout_payment_is_its_own_confirmation() -> None:
    state = derive_state([requested("card", 4000), ev("confirmed", 3), ev("charge_requested", 3),
                          ev("charged", 4, 4000)])
    assert state.outcome == "charged" and state.confirmed_at == T0 + timedelta(minutes=3)


def test_a_gift_held_for_donor_details_is_released_or_expires() -> None:
    held = derive_state([requested("card", 6000), ev("confirmation_sent"), ev("confirmed", 1),
                         ev("details_requested", 2)])
    assert held.status == "awaiting_details"
    released = apply(held, ev("details_received", 30))
    assert released.status == "confirmed"
    assert apply(released, ev("charge_requested", 31)).status == "charge_requested"
    assert apply(held, ev("expired", 2000)).outcome == "expired"


@pytest.mark.parametrize(("events", "message"), [
    ([requested(), ev("confirmed"), ev("billing_submitted"), ev("billed"), ev("failed")],
     "already billed: a donation has one outcome"),
    ([requested(), ev("expired", 1440), ev("confirmed", 1441)], "confirmed cannot follow expired"),
    ([requested(), ev("expired", 1440), ev("cancelled", 1441)], "one outcome"),
    ([requested(), ev("confirmation_sent"), ev("billing_submitted")],
     "billing_submitted cannot follow awaiting_confirmation"),
    ([requested("card"), ev("confirmed"), ev("billing_submitted")], "for carrier donations"),
    ([requested("carrier"), ev("confirmed"), ev("charge_requested")], "for card donations"),
    ([requested(), ev("confirmed"), ev("billing_submitted"), ev("billing_submitted")],
     "billing_submitted cannot follow billing_submitted"),
    ([requested(), ev("confirmed"), ev("confirmed")], "confirmed cannot follow confirmed"),
    ([requested(), ev("confirmed", 0, 500)], "amount 500 differs"),
    ([requested(), ev("confirmed", 0, 1000, "EUR")], "currency EUR differs"),
    ([requested(), ev("cancelled"), ev("refunded", 0, 100)], "needs a billed or charged"),
    ([requested("card"), ev("confirmed"), ev("charge_requested"), ev("charged"),
      ev("refunded", 0, 600), ev("refunded", 0, 600)], "over the 1000 given"),
    ([requested("card"), ev("confirmed"), ev("charge_requested"), ev("charged"),
      ev("disputed"), ev("disputed")], "already disputed"),
    ([requested(), requested()], "requested once"),
    ([ev("confirmed")], "starts with requested"),
    ([ev("requested", 0, 1000)], "data.method"),
    ([ev("requested", 0, None, method="card")], "positive amount_cents"),
    ([requested(), ev("bogus")], "unknown donation event"),
    ([], "no events"),
])
def test_illegal_histories_raise(events: list[DonationEvent], message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        derive_state(events)


def test_a_checkout_gift_held_for_details_goes_back_to_waiting_for_its_page() -> None:
    """No YES was ever given: released, it must not become chargeable (`confirmed`)."""
    held = derive_state([requested("card"), ev("details_requested", 1)])
    assert held.status == "awaiting_details"
    released = apply(held, ev("details_received", 2))
    assert released.status == "requested" and released.confirmed_at is None
    with pytest.raises(LedgerError):
        apply(released, ev("charge_requested", 3))
    assert apply(released, ev("confirmation_sent", 3)).status == "awaiting_confirmation"


STATUSES = sorted({s for s, _ in TRANSITIONS} | set(TRANSITIONS.values()))


def _state_in(status: str, method: str) -> DonationState:
    outcome = status if status in OUTCOMES else None
    confirmed = None if status in ("requested", "awaiting_confirmation") else T0
    return DonationState(status=status, amount_cents=1000, currency="USD", method=method,
                         requested_at=T0, outcome=outcome, confirmed_at=confirmed)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("kind", sorted(EVENT_KINDS - {"refunded", "disputed"}))
def test_the_transition_table_is_the_whole_truth(status: str, kind: str) -> None:
    for method in ("carrier", "card"):
        state = _state_in(status, method)
        expected = TRANSITIONS.get((status, kind))
        wrong_method = {"billing_submitted": "card", "billed": "card", "charge_requested":
                        "carrier", "requires_action": "carrier", "charged": "carrier"}
        if expected is None or wrong_method.get(kind) == method:
            with pytest.raises(LedgerError):
                apply(state, ev(kind))
        else:
            assert apply(state, ev(kind)).status == expected
            assert state.status == status  # the old state is a value: untouched


# -- properties ---------------------------------------------------------------

ALL_KINDS = sorted(EVENT_KINDS)
amounts = st.sampled_from([None, None, None, 1000, 500, 400, 600, 1000])


def play(data: st.DataObject, method: str, steps: int) -> tuple[list[DonationEvent],
                                                                DonationState]:
    """Offer the ledger events, half of them ones its table would take now (so long
    histories happen), half anything at all; keep those it accepts."""
    accepted = [requested(method)]
    state = apply(None, accepted[0])
    for _ in range(steps):
        likely = sorted({k for s, k in TRANSITIONS if s == state.status}
                        | ({"refunded", "disputed"} if state.outcome in PAID else set())
                        or ALL_KINDS)
        kind = data.draw(st.one_of(st.sampled_from(likely), st.sampled_from(ALL_KINDS)))
        event = ev(kind, data.draw(st.integers(0, 3000)), data.draw(amounts))
        try:
            state = apply(state, event)
        except LedgerError:
            continue
        accepted.append(event)
    return accepted, state


@given(st.data(), st.sampled_from(["carrier", "card"]), st.integers(0, 25))
@settings(max_examples=200)
def test_any_accepted_history_charges_at_most_once_and_never_without_a_yes(
    data: st.DataObject, method: str, steps: int
) -> None:
    accepted, state = play(data, method, steps)
    kinds = [e.kind for e in accepted]
    assert sum(k in PAID for k in kinds) <= 1
    assert sum(k in CHARGE_ATTEMPTS for k in kinds) <= 1
    assert sum(k in OUTCOMES for k in kinds) <= 1
    for i, kind in enumerate(kinds):
        if kind in PAID | CHARGE_ATTEMPTS:
            assert "confirmed" in kinds[:i]
            assert not any(k in {"expired", "cancelled", "refused"} for k in kinds[:i])
    assert derive_state(accepted) == state
    assert 0 <= state.refunded_cents <= state.amount_cents
    if state.confirmed_at is not None:
        assert "confirmed" in kinds


@pytest.mark.parametrize("method", ["carrier", "card"])
def test_every_reachable_state_has_paid_at_most_once(method: str) -> None:
    """The same property over *every* history: a search of the whole (finite) state graph.

    A node is a ledger state plus what its history held (confirmed seen, charge
    attempts, payments, outcomes); events all at one time, with the amounts the
    ledger could meet, keep the graph finite.
    """
    Node = tuple[DonationState, bool, int, int, int]
    start: Node = (apply(None, requested(method)), False, 0, 0, 0)
    seen = {start}
    frontier = [start]
    while frontier:
        state, confirmed, attempts, paid, outcomes = frontier.pop()
        for kind in ALL_KINDS:
            for amount in (None, 1000, 500, 400, 600):
                try:
                    after = apply(state, ev(kind, 0, amount))
                except LedgerError:
                    continue
                node: Node = (after, confirmed or kind == "confirmed",
                              attempts + (kind in CHARGE_ATTEMPTS), paid + (kind in PAID),
                              outcomes + (kind in OUTCOMES))
                assert node[2] <= 1 and node[3] <= 1 and node[4] <= 1, (state, kind)
                if kind in CHARGE_ATTEMPTS | PAID:
                    assert confirmed, (state, kind)
                if node not in seen:
                    seen.add(node)
                    frontier.append(node)
    assert len(seen) > 20  # the search did walk the graph
