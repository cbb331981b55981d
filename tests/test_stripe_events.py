"""Webhook verification and interpretation, pure: bytes and a clock in, event or rejection out.

Bodies are signed by tests/support/fake_stripe.py's own HMAC (Stripe's documented
scheme) and verified by the gateway through the stripe library, so a mismatch
between the two would fail here.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.billing.stripe_events import (
    CardSetupCompleted,
    Charged,
    CheckoutPaid,
    Disputed,
    Ignored,
    PaymentFailed,
    Refunded,
    WebhookRejected,
    outcome_of,
    verify_webhook,
)
from tests.support.fake_stripe import stripe_signature, webhook_body

SECRET = f"whsec_{secrets.token_hex(16)}"
OTHER_SECRET = f"whsec_{secrets.token_hex(16)}"
T = 1_800_000_000


def event(event_type: str, obj: dict[str, Any], event_id: str = "evt_1") -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": T - 2,
        "data": {"object": obj},
        "livemode": False,
        "type": event_type,
    }


INTENT = {
    "id": "pi_1",
    "object": "payment_intent",
    "amount": 2500,
    "amount_received": 2500,
    "currency": "usd",
    "customer": "cus_1",
    "latest_charge": "ch_1",
    "last_payment_error": None,
    "metadata": {"donation_ref": "42"},
    "status": "succeeded",
}


def signed(body: bytes, *, at: int = T, secret: str = SECRET) -> str:
    return stripe_signature(body, secret, timestamp=at)


def rejection(body: bytes, header: str | None, *, now: float = T) -> str:
    with pytest.raises(WebhookRejected) as caught:
        verify_webhook(body, header, SECRET, now=now)
    return caught.value.reason


def test_a_signed_event_is_verified_and_interpreted() -> None:
    body = webhook_body(event("payment_intent.succeeded", INTENT))
    verified = verify_webhook(body, signed(body), SECRET, now=T + 5)
    assert (verified.id, verified.type) == ("evt_1", "payment_intent.succeeded")
    assert verified.created == T - 2 and verified.livemode is False
    assert verified.payload == json.loads(body)
    assert verified.outcome == Charged(
        donation_ref=42,
        amount_cents=2500,
        currency="usd",
        payment_intent_id="pi_1",
        charge_id="ch_1",
        customer_id="cus_1",
    )


def test_tampered_body_wrong_secret_or_no_header_are_rejected() -> None:
    body = webhook_body(event("payment_intent.succeeded", INTENT))
    header = signed(body)
    tampered = body.replace(b"2500", b"9900")
    assert rejection(tampered, header) == "bad_signature"
    assert rejection(body, signed(body, secret=OTHER_SECRET)) == "bad_signature"
    assert rejection(body, None) == "missing_signature"
    assert rejection(body, "") == "missing_signature"
    assert rejection(body, "v1=abc") == "bad_signature"
    assert rejection(body, header.replace("v1=", "v0=")) == "bad_signature"


def test_a_rotated_secret_signature_among_several_is_accepted() -> None:
    body = webhook_body(event("charge.succeeded", {"id": "ch_1"}))
    old = signed(body, secret=OTHER_SECRET).split(",")[1]
    assert verify_webhook(body, f"{signed(body)},{old}", SECRET, now=T).type == "charge.succeeded"


def test_the_signature_age_is_checked_against_the_clock_passed_in() -> None:
    body = webhook_body(event("charge.succeeded", {"id": "ch_1"}))
    header = signed(body)
    assert verify_webhook(body, header, SECRET, now=T + 300).id == "evt_1"
    assert rejection(body, header, now=T + 301) == "expired"
    with pytest.raises(WebhookRejected, match="expired"):
        verify_webhook(body, header, SECRET, tolerance=10, now=T + 11)
    # Re-signing an old event with a fresh timestamp needs the secret: a replay cannot.
    assert rejection(body, header.replace(f"t={T}", f"t={T + 400}"), now=T + 400) == (
        "bad_signature"
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe not utf-8", "malformed_payload"),
        (b"not json", "malformed_payload"),
        (b"[1, 2]", "malformed_payload"),
        (b'{"id": "evt_1", "type": "x"}', "unexpected_object"),
        (webhook_body(event("payment_intent.succeeded", {"id": "pi_1"})), "unexpected_object"),
    ],
)
def test_signed_but_unusable_bodies_are_rejected_with_a_reason(body: bytes, reason: str) -> None:
    assert rejection(body, signed(body)) == reason


def test_a_missing_secret_is_our_configuration_error_not_the_peers() -> None:
    with pytest.raises(ValueError, match="secret"):
        verify_webhook(b"{}", "t=1,v1=00", " ", now=T)


@given(header=st.text(max_size=80), body=st.binary(max_size=200))
def test_any_header_and_body_are_accepted_or_rejected_never_crash(header: str, body: bytes) -> None:
    try:
        verify_webhook(body, header, SECRET, now=T)
    except WebhookRejected as err:
        assert err.reason in {"missing_signature", "bad_signature", "malformed_payload"}


@given(obj=st.dictionaries(st.text(max_size=12), st.none() | st.integers() | st.text(max_size=8)))
def test_any_signed_object_of_a_handled_type_maps_or_is_rejected(obj: dict[str, Any]) -> None:
    for event_type in ("payment_intent.succeeded", "charge.refunded", "checkout.session.completed"):
        body = webhook_body(event(event_type, obj))
        try:
            verify_webhook(body, signed(body), SECRET, now=T)
        except WebhookRejected as err:
            assert err.reason == "unexpected_object"


@given(ref=st.text(max_size=20))
def test_donation_ref_is_ours_only_when_it_is_a_plain_number(ref: str) -> None:
    outcome = outcome_of("payment_intent.succeeded", {**INTENT, "metadata": {"donation_ref": ref}})
    assert isinstance(outcome, Charged)
    expected = int(ref) if ref.isascii() and ref.isdigit() and len(ref) <= 18 else None
    assert outcome.donation_ref == expected


def test_payment_failed_carries_the_decline_code() -> None:
    error = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "declined"}
    intent = {**INTENT, "status": "requires_payment_method", "last_payment_error": error}
    assert outcome_of("payment_intent.payment_failed", intent) == PaymentFailed(
        donation_ref=42,
        payment_intent_id="pi_1",
        decline_code="insufficient_funds",
        failure_message="declined",
    )


def test_setup_checkout_names_the_number_customer_and_setup_intent() -> None:
    session = {
        "id": "cs_1",
        "mode": "setup",
        "customer": "cus_1",
        "setup_intent": "seti_1",
        "metadata": {"msisdn": "+15551234567"},
    }
    assert outcome_of("checkout.session.completed", session) == CardSetupCompleted(
        msisdn="+15551234567",
        customer_id="cus_1",
        setup_intent_id="seti_1",
        checkout_session_id="cs_1",
    )


def test_payment_checkout_is_paid_for_its_donation() -> None:
    session = {
        "id": "cs_2",
        "mode": "payment",
        "customer": None,
        "payment_intent": {"id": "pi_2"},
        "amount_total": 1000,
        "currency": "usd",
        "payment_status": "paid",
        "metadata": {"donation_ref": "5"},
    }
    assert outcome_of("checkout.session.completed", session) == CheckoutPaid(
        donation_ref=5,
        msisdn=None,
        amount_cents=1000,
        currency="usd",
        payment_status="paid",
        payment_intent_id="pi_2",
        customer_id=None,
        checkout_session_id="cs_2",
    )


def test_refund_and_dispute_carry_their_amounts() -> None:
    charge = {
        "id": "ch_1",
        "payment_intent": "pi_1",
        "amount": 2500,
        "amount_refunded": 1000,
        "currency": "usd",
        "metadata": {},
    }
    assert outcome_of("charge.refunded", charge) == Refunded(
        donation_ref=None,
        charge_id="ch_1",
        payment_intent_id="pi_1",
        amount_cents=2500,
        amount_refunded_cents=1000,
        currency="usd",
    )
    dispute = {
        "id": "dp_1",
        "charge": "ch_1",
        "payment_intent": "pi_1",
        "amount": 2500,
        "currency": "usd",
        "reason": "fraudulent",
    }
    assert outcome_of("charge.dispute.created", dispute) == Disputed(
        donation_ref=None,
        dispute_id="dp_1",
        charge_id="ch_1",
        payment_intent_id="pi_1",
        amount_cents=2500,
        currency="usd",
        reason="fraudulent",
    )


def test_unknown_types_are_ignored_not_rejected() -> None:
    assert outcome_of("customer.created", {"id": "cus_1"}) == Ignored("customer.created")
