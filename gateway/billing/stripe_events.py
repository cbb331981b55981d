"""Stripe webhooks: verified bytes in, one typed outcome out. No I/O.

Why the library checks the signature and we check the age: the HMAC scheme is
Stripe's to define, so `stripe.WebhookSignature.verify_header` does it; but it
reads the wall clock itself, and a test (or a replay investigation) must be
able to pass the time in. We call it without a tolerance and compare the
signed `t=` ourselves, after the signature proved `t` authentic.

Why a signed event of a handled type with a missing field is rejected rather
than ignored: it can only mean an API-version mismatch, and a money event must
not vanish. A 400 makes Stripe redeliver (for days) until we are fixed.

Amounts are integer cents as Stripe sends them; `donation_ref` is our id from
the metadata, None when the object was not created by the gateway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import stripe

DEFAULT_TOLERANCE_S: Final = 300


class WebhookRejected(Exception):
    """The request is not a Stripe event we can accept; `reason` is a stable code for the reply."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Charged:
    donation_ref: int | None
    amount_cents: int
    currency: str
    payment_intent_id: str
    charge_id: str | None
    customer_id: str | None


@dataclass(frozen=True, slots=True)
class PaymentFailed:
    donation_ref: int | None
    payment_intent_id: str
    decline_code: str | None
    failure_message: str | None


@dataclass(frozen=True, slots=True)
class CardSetupCompleted:
    """Setup-mode Checkout finished; the card itself is on the SetupIntent (one API read)."""

    msisdn: str | None
    customer_id: str | None
    setup_intent_id: str | None
    checkout_session_id: str


@dataclass(frozen=True, slots=True)
class CheckoutPaid:
    """Payment-mode Checkout finished; payment_intent.succeeded reports the same money too."""

    donation_ref: int | None
    msisdn: str | None
    amount_cents: int
    currency: str
    payment_status: str
    payment_intent_id: str | None
    customer_id: str | None
    checkout_session_id: str
    saves_card: bool = False  # created with setup_future_usage: the card is kept too


@dataclass(frozen=True, slots=True)
class CardBinding:
    """A completed Checkout that saved a card: whose, and the intent that holds it."""

    msisdn: str | None
    customer_id: str | None
    intent_id: str | None  # seti_... (setup mode) or pi_... (payment mode, saved)


def card_to_bind(outcome: Outcome) -> CardBinding | None:
    """The card this event asks us to bind to a number, if any (web/webhooks.py)."""
    if isinstance(outcome, CardSetupCompleted):
        return CardBinding(outcome.msisdn, outcome.customer_id, outcome.setup_intent_id)
    if isinstance(outcome, CheckoutPaid) and outcome.saves_card \
            and outcome.payment_status == "paid":
        return CardBinding(outcome.msisdn, outcome.customer_id, outcome.payment_intent_id)
    return None


@dataclass(frozen=True, slots=True)
class Refunded:
    """`amount_refunded_cents` is cumulative over the charge's refunds, as Stripe reports it."""

    donation_ref: int | None
    charge_id: str
    payment_intent_id: str | None
    amount_cents: int
    amount_refunded_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class Disputed:
    donation_ref: int | None
    dispute_id: str
    charge_id: str | None
    payment_intent_id: str | None
    amount_cents: int
    currency: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Ignored:
    event_type: str


Outcome = (
    Charged | PaymentFailed | CardSetupCompleted | CheckoutPaid | Refunded | Disputed | Ignored
)


@dataclass(frozen=True, slots=True)
class StripeEvent:
    id: str
    type: str
    created: int
    livemode: bool
    object: Mapping[str, Any]
    payload: Mapping[str, Any]
    outcome: Outcome


def verify_webhook(
    payload: bytes,
    signature_header: str | None,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> StripeEvent:
    """The event, if Stripe signed exactly these bytes with `secret` within `tolerance` s."""
    if not secret.strip():
        raise ValueError("no Stripe webhook signing secret configured (whsec_...); set it")
    if tolerance <= 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    if not signature_header:
        raise WebhookRejected("missing_signature", "no Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected("malformed_payload", "the body is not UTF-8") from None
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, secret, None)
    except stripe.SignatureVerificationError:
        raise WebhookRejected(
            "bad_signature", "the Stripe-Signature does not match this body and endpoint secret"
        ) from None
    age = (time.time() if now is None else now) - _signed_at(signature_header)
    if age > tolerance:
        raise WebhookRejected(
            "expired", f"signed {int(age)} s ago, beyond the {tolerance} s tolerance (a replay?)"
        )
    return parse_event(text)


def parse_event(text: str) -> StripeEvent:
    """An already verified body as a StripeEvent with its outcome."""
    try:
        payload = json.loads(text)
    except ValueError:
        raise WebhookRejected("malformed_payload", "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("malformed_payload", "the body is not a JSON object")
    fields = _Fields(payload, "event")
    data = fields.obj("data")
    event_type = fields.text("type")
    obj = _Fields(data, "data").obj("object")
    return StripeEvent(
        id=fields.text("id"),
        type=event_type,
        created=fields.whole("created"),
        livemode=payload.get("livemode") is True,
        object=obj,
        payload=payload,
        outcome=outcome_of(event_type, obj),
    )


def outcome_of(event_type: str, obj: Mapping[str, Any]) -> Outcome:
    interpret = _INTERPRETERS.get(event_type)
    if interpret is None:
        return Ignored(event_type)
    return interpret(_Fields(obj, event_type))


def _signed_at(header: str) -> int:
    """The `t=` the library just verified (it uses the first one, so do we)."""
    for item in header.split(","):
        parts = item.split("=", 2)
        if parts[0] == "t" and len(parts) > 1:
            try:
                return int(parts[1])
            except ValueError:
                break
    raise WebhookRejected("bad_signature", "no t= timestamp in Stripe-Signature")


class _Fields:
    """Typed reads from one JSON object; a wrong or missing field names itself in the 400."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def _bad(self, key: str, wanted: str) -> WebhookRejected:
        return WebhookRejected("unexpected_object", f"{self.where}: {key} is not {wanted}")

    def text(self, key: str) -> str:
        value = self.raw.get(key)
        if not isinstance(value, str) or not value:
            raise self._bad(key, "a non-empty string")
        return value

    def whole(self, key: str) -> int:
        value = self.raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self._bad(key, "a non-negative integer")
        return value

    def obj(self, key: str) -> dict[str, Any]:
        value = self.raw.get(key)
        if not isinstance(value, dict):
            raise self._bad(key, "an object")
        return value

    def maybe_obj(self, key: str) -> dict[str, Any]:
        value = self.raw.get(key)
        return value if isinstance(value, dict) else {}

    def ref(self, key: str) -> str | None:
        """An expandable field: the id, or the expanded object's id, or None."""
        value = self.raw.get(key)
        if isinstance(value, dict):
            value = value.get("id")
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(key, "an id")
        return value

    def donation_ref(self) -> int | None:
        value = self.maybe_obj("metadata").get("donation_ref")
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
            return int(value)
        return None


def _charged(f: _Fields) -> Charged:
    return Charged(
        donation_ref=f.donation_ref(),
        amount_cents=f.whole("amount_received"),
        currency=f.text("currency"),
        payment_intent_id=f.text("id"),
        charge_id=f.ref("latest_charge"),
        customer_id=f.ref("customer"),
    )


def _payment_failed(f: _Fields) -> PaymentFailed:
    error = f.maybe_obj("last_payment_error")
    decline = error.get("decline_code") or error.get("code")
    message = error.get("message")
    return PaymentFailed(
        donation_ref=f.donation_ref(),
        payment_intent_id=f.text("id"),
        decline_code=str(decline) if decline else None,
        failure_message=str(message) if message else None,
    )


def _checkout_completed(f: _Fields) -> CardSetupCompleted | CheckoutPaid:
    metadata = f.maybe_obj("metadata")
    msisdn = metadata.get("msisdn") if isinstance(metadata.get("msisdn"), str) else None
    if f.text("mode") == "setup":
        return CardSetupCompleted(
            msisdn=msisdn,
            customer_id=f.ref("customer"),
            setup_intent_id=f.ref("setup_intent"),
            checkout_session_id=f.text("id"),
        )
    return CheckoutPaid(
        donation_ref=f.donation_ref(),
        msisdn=msisdn,
        amount_cents=f.whole("amount_total"),
        currency=f.text("currency"),
        payment_status=f.text("payment_status"),
        payment_intent_id=f.ref("payment_intent"),
        customer_id=f.ref("customer"),
        checkout_session_id=f.text("id"),
        saves_card=metadata.get("save_card") == "1",
    )


def _refunded(f: _Fields) -> Refunded:
    return Refunded(
        donation_ref=f.donation_ref(),
        charge_id=f.text("id"),
        payment_intent_id=f.ref("payment_intent"),
        amount_cents=f.whole("amount"),
        amount_refunded_cents=f.whole("amount_refunded"),
        currency=f.text("currency"),
    )


def _disputed(f: _Fields) -> Disputed:
    reason = f.raw.get("reason")
    return Disputed(
        donation_ref=f.donation_ref(),
        dispute_id=f.text("id"),
        charge_id=f.ref("charge"),
        payment_intent_id=f.ref("payment_intent"),
        amount_cents=f.whole("amount"),
        currency=f.text("currency"),
        reason=str(reason) if reason else None,
    )


_INTERPRETERS: Final[dict[str, Callable[[_Fields], Outcome]]] = {
    "payment_intent.succeeded": _charged,
    "payment_intent.payment_failed": _payment_failed,
    "checkout.session.completed": _checkout_completed,
    "charge.refunded": _refunded,
    "charge.dispute.created": _disputed,
}
