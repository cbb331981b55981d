"""Card donations through Stripe's official library (async), one charge per donation.

Why the idempotency key is the donation's own id: a YES can reach us twice (an
SMSC redelivery), a request can time out after Stripe charged, the process can
die between the request and the commit that records it. Every attempt for one
donation sends `donation-{ref}`, so Stripe answers with the first
PaymentIntent instead of creating another. Stripe keeps a key for at least 24
hours; the ledger must record the outcome well within that.

Why the library's own retries: stripe-python builds the headers, the
Idempotency-Key included, once per call and then loops over attempts with those
same headers on connection errors, 409 and 5xx
(`HTTPClient._request_with_retries_internal_async`). Setting
`max_network_retries` is enough; a loop of ours would only repeat it.

Why off-session authentication becomes a Checkout link: an off-session confirm
never starts 3-D Secure. A bank that wants it declines with
`authentication_required` and the intent waits for a new payment method. The
supporter can only finish on a page, so we return a payment-mode Checkout
session for the same donation (keyed `donation-{ref}-checkout`, so there is at
most one) to send by SMS. When Stripe does return `next_action.redirect_to_url`,
that URL is sent instead.

Why the first gift's page is payment mode with `setup_future_usage=off_session`
and not setup mode (docs/finance.md, "Card without a saved card"): a supporter without a card
who texts `GIVE 25` should pay $25 and keep the card for next time. Stripe's
Checkout does both on one page when a payment-mode session asks for
`payment_intent_data.setup_future_usage=off_session`: the page shows the
amount, the bank authenticates the supporter while they are there (SCA), and
the card is attached to the Customer (`customer_creation=always`) with the
consent that later off-session charges need. Setup mode would save the card
without showing an amount and leave the first gift to an off-session charge
right after, the charge most likely to be declined with
`authentication_required` since nobody is there to authenticate; and it
would take two steps to do what one does.

Why a Checkout page has `expires_at`: the page is the confirmation, and it
must not outlive the gift request (decisions.py `page_expires_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Literal

import stripe
from stripe.params.checkout import SessionCreateParams

from gateway.logs import get_logger

__all__ = [
    "ChargeResult",
    "CheckoutLink",
    "CheckoutMode",
    "SavedCard",
    "StripeCards",
    "StripeConfig",
    "StripeFailure",
    "StripeRejected",
    "StripeUnavailable",
    "checkout_idempotency_key",
    "donation_idempotency_key",
]

CheckoutMode = Literal["setup", "payment"]
ChargeStatus = Literal["succeeded", "requires_action", "processing", "failed"]

log = get_logger(__name__)


def donation_idempotency_key(donation_ref: int) -> str:
    """The one key every charge attempt for this donation sends."""
    return f"donation-{donation_ref}"


def checkout_idempotency_key(donation_ref: int) -> str:
    """At most one payment-mode Checkout session per donation."""
    return f"donation-{donation_ref}-checkout"


@dataclass(frozen=True, slots=True)
class StripeConfig:
    """Built by the app from Settings; the secrets never appear in a repr."""

    api_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    api_base: str
    checkout_success_url: str
    checkout_cancel_url: str
    max_network_retries: int = 2
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.api_key.strip():
            raise ValueError("Stripe API key is empty; set the Stripe secret key")
        if not self.api_base.startswith(("http://", "https://")):
            raise ValueError(f"Stripe api_base must be an http(s) URL, got {self.api_base!r}")
        if self.max_network_retries < 0:
            raise ValueError("max_network_retries must be 0 or more")


class StripeFailure(Exception):
    """A Stripe call failed; `http_status`, `code` and `request_id` say where to look."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.request_id = request_id


class StripeUnavailable(StripeFailure):
    """Unreachable, rate-limited or 5xx after the retries: retry later, the keys keep it single."""


class StripeRejected(StripeFailure):
    """Stripe refused the request itself (key, parameters, reused key): retrying will not help."""


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """What happened to one charge attempt.

    `requires_action` carries `action_url`, the page the supporter must open;
    `failed` carries the bank's `decline_code`; `processing` settles by webhook.
    """

    status: ChargeStatus
    payment_intent_id: str | None
    charge_id: str | None = None
    action_url: str | None = None
    decline_code: str | None = None
    failure_message: str | None = None

    def with_action_url(self, url: str) -> ChargeResult:
        return replace(self, action_url=url)


@dataclass(frozen=True, slots=True)
class CheckoutLink:
    session_id: str
    url: str


@dataclass(frozen=True, slots=True)
class SavedCard:
    """What a completed card setup left on Stripe: enough to charge and to name the card."""

    customer_id: str
    payment_method_id: str
    brand: str
    last4: str


class StripeCards:
    """A thin async wrapper: our parameters in, small dataclasses out, Stripe errors typed."""

    def __init__(self, config: StripeConfig, *, http_client: stripe.HTTPClient | None = None):
        self._config = config
        self._http = http_client or stripe.AIOHTTPClient(timeout=config.timeout_s)
        self._client = stripe.StripeClient(
            config.api_key,
            base_addresses={"api": config.api_base.rstrip("/")},
            max_network_retries=config.max_network_retries,
            http_client=self._http,
        )

    @property
    def client(self) -> stripe.StripeClient:
        """The library's client, for calls kept in their own modules (billing/refunds.py)."""
        return self._client

    async def aclose(self) -> None:
        # The library leaves this method unannotated; it closes the aiohttp session.
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> StripeCards:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def create_customer(self, *, msisdn: str, idempotency_key: str | None = None) -> str:
        """A Customer carrying the supporter's number, so a saved card can be found again."""
        try:
            customer = await self._client.v1.customers.create_async(
                {"phone": msisdn, "metadata": {"msisdn": msisdn}},
                _options(idempotency_key),
            )
        except stripe.StripeError as err:
            raise translated(err, "create a Stripe customer") from None
        return str(customer.id)

    async def create_checkout_session(
        self,
        *,
        mode: CheckoutMode,
        msisdn: str | None,
        customer_id: str | None = None,
        amount_cents: int | None = None,
        currency: str = "usd",
        donation_ref: int | None = None,
        description: str = "Donation",
        idempotency_key: str | None = None,
        save_card: bool = False,
        expires_at: int | None = None,
    ) -> CheckoutLink:
        """Setup mode saves a card for the customer; payment mode pays one donation once,
        and with `save_card` also keeps the card for off-session charges. `expires_at`
        (unix seconds) must be 30 minutes to 24 hours away, as Stripe requires."""
        if save_card and (mode != "payment" or msisdn is None):
            raise ValueError("save_card is for payment mode, with the number to bind it to")
        params = self._checkout_params(
            mode, msisdn, customer_id, amount_cents, currency, donation_ref, description,
            save_card,
        )
        if expires_at is not None:
            params["expires_at"] = expires_at
        if idempotency_key is None and mode == "payment" and donation_ref is not None:
            idempotency_key = checkout_idempotency_key(donation_ref)
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params, _options(idempotency_key)
            )
        except stripe.StripeError as err:
            raise translated(err, f"create a {mode} Checkout session") from None
        if not session.url:
            raise StripeRejected(f"Checkout session {session.id} came back without a URL")
        log.info("stripe_checkout_created", mode=mode, donation_ref=donation_ref)
        return CheckoutLink(session_id=str(session.id), url=str(session.url))

    def _checkout_params(
        self,
        mode: CheckoutMode,
        msisdn: str | None,
        customer_id: str | None,
        amount_cents: int | None,
        currency: str,
        donation_ref: int | None,
        description: str,
        save_card: bool = False,
    ) -> SessionCreateParams:
        metadata: dict[str, str] = {}
        if save_card:
            metadata["save_card"] = "1"  # the webhook binds the card (stripe_events.py)
        if msisdn is not None:
            metadata["msisdn"] = msisdn
        if donation_ref is not None:
            metadata["donation_ref"] = str(donation_ref)
        params: SessionCreateParams = {
            "mode": mode,
            "success_url": self._config.checkout_success_url,
            "cancel_url": self._config.checkout_cancel_url,
            "allowed_payment_method_types": ["card"],
            "metadata": metadata,
        }
        if customer_id is not None:
            params["customer"] = customer_id
        if mode == "setup":
            if customer_id is None or msisdn is None:
                raise ValueError("setup mode needs customer_id and msisdn to bind the card")
            if amount_cents is not None:
                raise ValueError("setup mode saves a card; it takes no amount")
            params["currency"] = currency
            params["setup_intent_data"] = {"metadata": metadata}
            return params
        if donation_ref is None or amount_cents is None or amount_cents <= 0:
            raise ValueError("payment mode needs donation_ref and a positive amount_cents")
        params["client_reference_id"] = donation_idempotency_key(donation_ref)
        params["line_items"] = [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency,
                    "unit_amount": amount_cents,
                    "product_data": {"name": description},
                },
            }
        ]
        params["payment_intent_data"] = {"metadata": metadata, "description": description}
        if save_card:
            params["payment_intent_data"]["setup_future_usage"] = "off_session"
            if customer_id is None:
                params["customer_creation"] = "always"  # an off-session charge needs one
        return params

    async def charge_saved_card(
        self,
        *,
        donation_ref: int,
        amount_cents: int,
        currency: str,
        customer_id: str,
        payment_method_id: str,
        description: str = "Donation",
    ) -> ChargeResult:
        """Confirm a PaymentIntent off-session; any number of calls charge at most once."""
        if amount_cents <= 0:
            raise ValueError(f"amount_cents must be positive, got {amount_cents}")
        metadata = {"donation_ref": str(donation_ref)}
        try:
            intent = await self._client.v1.payment_intents.create_async(
                {
                    "amount": amount_cents,
                    "currency": currency,
                    "customer": customer_id,
                    "payment_method": payment_method_id,
                    "allowed_payment_method_types": ["card"],
                    "confirm": True,
                    "off_session": True,
                    "description": description,
                    "metadata": metadata,
                },
                {"idempotency_key": donation_idempotency_key(donation_ref)},
            )
            result = result_of_intent(intent.to_dict())
        except stripe.CardError as err:
            result = _declined(err)
        except stripe.StripeError as err:
            raise translated(err, f"charge donation {donation_ref}") from None
        if result.status == "requires_action" and result.action_url is None:
            link = await self.create_checkout_session(
                mode="payment",
                msisdn=None,
                customer_id=customer_id,
                amount_cents=amount_cents,
                currency=currency,
                donation_ref=donation_ref,
                description=description,
            )
            result = result.with_action_url(link.url)
        log.info(
            "stripe_charge",
            donation_ref=donation_ref,
            status=result.status,
            payment_intent=result.payment_intent_id,
            decline_code=result.decline_code,
        )
        return result

    async def get_payment_intent(self, payment_intent_id: str) -> ChargeResult:
        """Where a charge stands now (for reconciling a donation whose outcome we missed)."""
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(payment_intent_id)
        except stripe.StripeError as err:
            raise translated(err, f"read PaymentIntent {payment_intent_id}") from None
        return result_of_intent(intent.to_dict())

    async def saved_card_of_intent(self, intent_id: str) -> SavedCard:
        """The card a completed Checkout saved: from its SetupIntent (setup mode, `seti_`)
        or its PaymentIntent (payment mode with setup_future_usage, `pi_`)."""
        if intent_id.startswith("pi_"):
            return await self.saved_card_from_payment_intent(intent_id)
        return await self.saved_card_from_setup_intent(intent_id)

    async def saved_card_from_payment_intent(self, payment_intent_id: str) -> SavedCard:
        """The card a paid payment-mode Checkout kept for off-session use."""
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(
                payment_intent_id, {"expand": ["payment_method"]}
            )
        except stripe.StripeError as err:
            raise translated(err, f"read PaymentIntent {payment_intent_id}") from None
        found = intent.to_dict()
        if found.get("setup_future_usage") != "off_session":
            raise StripeRejected(
                f"PaymentIntent {payment_intent_id} did not save its card for later "
                "(no setup_future_usage=off_session)"
            )
        return _saved_card(found)

    async def saved_card_from_setup_intent(self, setup_intent_id: str) -> SavedCard:
        """The card a completed setup-mode Checkout left (webhooks carry only the intent's id)."""
        try:
            intent = await self._client.v1.setup_intents.retrieve_async(
                setup_intent_id, {"expand": ["payment_method"]}
            )
        except stripe.StripeError as err:
            raise translated(err, f"read SetupIntent {setup_intent_id}") from None
        return _saved_card(intent.to_dict())


def _options(idempotency_key: str | None) -> stripe.RequestOptions:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


def _declined(err: stripe.CardError) -> ChargeResult:
    """A 402: the bank said no, or wants the supporter to authenticate on a page."""
    body = as_dict(err.json_body)
    error = as_dict(body.get("error"))
    intent = as_dict(error.get("payment_intent"))
    code = error.get("code") or err.code
    payment_intent_id = id_of(intent) if intent else None
    if code == "authentication_required":
        return ChargeResult(
            "requires_action", payment_intent_id, decline_code="authentication_required"
        )
    decline = error.get("decline_code") or code
    return ChargeResult(
        "failed",
        payment_intent_id,
        decline_code=str(decline) if decline else "card_declined",
        failure_message=str(error["message"]) if error.get("message") else None,
    )


def _saved_card(intent: dict[str, Any]) -> SavedCard:
    method = as_dict(intent.get("payment_method"))
    card = as_dict(method.get("card"))
    customer = id_of(intent.get("customer")) or id_of(method.get("customer"))
    if intent.get("status") != "succeeded" or not card or customer is None:
        raise StripeRejected(
            f"SetupIntent {intent.get('id')} holds no saved card "
            f"(status {intent.get('status')!r}); the supporter must finish Checkout again"
        )
    return SavedCard(
        customer_id=customer,
        payment_method_id=str(method["id"]),
        brand=str(card.get("brand") or "card"),
        last4=str(card.get("last4") or ""),
    )


def result_of_intent(intent: dict[str, Any]) -> ChargeResult:
    """A PaymentIntent's status in our three outcomes (plus `processing`)."""
    intent_id = id_of(intent)
    status = intent.get("status")
    if status == "succeeded":
        return ChargeResult("succeeded", intent_id, charge_id=id_of(intent.get("latest_charge")))
    if status == "requires_action":
        action = as_dict(intent.get("next_action"))
        url = as_dict(action.get("redirect_to_url")).get("url")
        return ChargeResult("requires_action", intent_id, action_url=str(url) if url else None)
    if status in ("requires_payment_method", "canceled"):
        error = as_dict(intent.get("last_payment_error"))
        decline = error.get("decline_code") or error.get("code") or str(status)
        message = error.get("message")
        return ChargeResult(
            "failed",
            intent_id,
            decline_code=str(decline),
            failure_message=str(message) if message else None,
        )
    # processing, or a state we never ask for (requires_capture): the webhook settles it.
    return ChargeResult("processing", intent_id)


def translated(err: stripe.StripeError, doing: str) -> StripeFailure:
    """The library's error as ours, with what to do; never the request or the key."""
    details: dict[str, Any] = {
        "http_status": err.http_status,
        "code": err.code,
        "request_id": err.request_id,
    }
    kind = type(err).__name__
    if isinstance(err, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        return StripeUnavailable(
            f"cannot {doing}: Stripe unreachable or failing ({kind}, HTTP {err.http_status}) "
            "after retries; retry later, the idempotency key prevents a second charge",
            **details,
        )
    if isinstance(err, stripe.AuthenticationError | stripe.PermissionError):
        return StripeRejected(
            f"cannot {doing}: Stripe refused our credentials ({kind}); check the Stripe API key",
            **details,
        )
    if isinstance(err, stripe.IdempotencyError):
        return StripeRejected(
            f"cannot {doing}: its idempotency key was already used with other parameters "
            "(a different amount, card or customer for the same donation); nothing was charged "
            "by this call",
            **details,
        )
    if (err.http_status or 0) >= 500:
        message = f"cannot {doing}: Stripe answered HTTP {err.http_status}; retry later"
        return StripeUnavailable(message, **details)
    message = f"cannot {doing}: Stripe refused it ({kind}): {err.user_message}"
    return StripeRejected(message, **details)


def as_dict(value: object) -> dict[str, Any]:
    """A JSON object, or {} for null/absent (Stripe sends null for unset fields)."""
    return value if isinstance(value, dict) else {}


def id_of(value: object) -> str | None:
    """An expandable field: either the id itself or the expanded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None
