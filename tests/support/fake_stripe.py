"""A local stand-in for the Stripe API (tests only), speaking what stripe-python sends.

It implements exactly the endpoints the gateway calls: customers, Checkout
sessions, PaymentIntents (create, retrieve with `expand`) and SetupIntents
(retrieve, with `expand`). Like Stripe it:

- answers form-encoded requests (`metadata[donation_ref]=7`) with JSON objects;
- honours `Idempotency-Key`: the same key with the same parameters replays the
  first answer (header `Idempotent-Replayed: true`), with other parameters it
  is a 400 `idempotency_error`; a card decline (402) is replayed too, a
  validation 400 is not saved;
- behaves per test payment method (`TEST_CARDS`): succeed, decline with a
  decline code, or want authentication (off-session: a 402
  `authentication_required`, as Stripe does; `pm_card_authenticationRedirect`,
  ours only, answers `requires_action` with `next_action.redirect_to_url`);
- takes a session's `expires_at` only 30 minutes to 24 hours ahead of `clock`
  (the test's clock, or the wall clock), and in payment mode honours
  `customer_creation=always` and `payment_intent_data[setup_future_usage]`
  (the paid page leaves the card attached to a new Customer);
- records the events Stripe would send, and signs webhooks with Stripe's
  documented scheme (`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`),
  written here independently so the gateway's verification (the library's) is
  checked against a second implementation.

Faults: `fail_next(n)` answers 500 before doing anything (a load balancer or
network error), `fail_next(n, after_processing=True)` does the work, saves the
idempotent answer and then answers 500 (the response was lost), and
`drop_next(n)` closes the connection without an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import aiohttp
from aiohttp import web

from tests.support.loopback import LoopbackServer

Behaviour = Literal["succeed", "decline", "authenticate", "redirect"]
Fault = Literal["before", "after", "drop"]
JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _answered(handler: Callable[[web.Request], Awaitable[JSON]]) -> Handler:
    """A handler returning a dict, as the router sees it once the middleware JSON-encodes it."""
    return cast(Handler, handler)


PARAMS = web.RequestKey("params", dict)


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    behaviour: Behaviour
    decline_code: str | None = None


TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242", "succeed"),
    "pm_card_mastercard": TestCard("mastercard", "4444", "succeed"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", "decline", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "decline", "insufficient_funds"
    ),
    "pm_card_authenticationRequired": TestCard("visa", "3184", "authenticate"),
    "pm_card_authenticationRedirect": TestCard("visa", "3220", "redirect"),
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    idempotency_key: str | None
    params: JSON


@dataclass
class _Saved:
    fingerprint: tuple[str, str, tuple[tuple[str, str], ...]]
    status: int
    body: bytes


class StripeApiError(Exception):
    def __init__(self, status: int, error: JSON) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


@dataclass
class FakeStripe(LoopbackServer):
    api_key: str = field(default_factory=lambda: f"sk_test_{secrets.token_hex(12)}", repr=False)
    webhook_secret: str = field(
        default_factory=lambda: f"whsec_{secrets.token_hex(16)}", repr=False
    )
    requests: list[RecordedRequest] = field(default_factory=list)
    events: list[JSON] = field(default_factory=list)
    crashes: list[Exception] = field(default_factory=list)
    customers: dict[str, JSON] = field(default_factory=dict)
    sessions: dict[str, JSON] = field(default_factory=dict)
    payment_intents: dict[str, JSON] = field(default_factory=dict)
    setup_intents: dict[str, JSON] = field(default_factory=dict)
    payment_methods: dict[str, JSON] = field(default_factory=dict)
    charges: dict[str, JSON] = field(default_factory=dict)
    _saved: dict[str, _Saved] = field(default_factory=dict)
    _faults: deque[Fault] = field(default_factory=deque)
    _session_params: dict[str, JSON] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    clock: Callable[[], float] = time.time  # what "now" is for expires_at

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/v1/customers", _answered(self._create_customer))
        app.router.add_delete("/v1/customers/{id}", _answered(self._delete_customer))
        app.router.add_post("/v1/checkout/sessions", _answered(self._create_session))
        app.router.add_post("/v1/payment_intents", _answered(self._create_payment_intent))
        app.router.add_get("/v1/payment_intents/{id}", _answered(self._retrieve_payment_intent))
        app.router.add_get("/v1/setup_intents/{id}", _answered(self._retrieve_setup_intent))
        app.router.add_post("/v1/refunds", _answered(self._create_refund))
        return await self.serve(app)

    # --- what tests set and read ----------------------------------------------------------

    def fail_next(self, count: int, *, after_processing: bool = False) -> None:
        self._faults.extend(["after" if after_processing else "before"] * count)

    def drop_next(self, count: int) -> None:
        self._faults.extend(["drop"] * count)

    @property
    def payment_intents_created(self) -> int:
        return len(self.payment_intents)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def events_of_type(self, event_type: str) -> list[JSON]:
        return [e for e in self.events if e["type"] == event_type]

    # --- what happens on Stripe's side (the supporter, the bank, the finance desk) --------

    def complete_checkout(self, session_id: str, card: str = "pm_card_visa") -> JSON:
        """The supporter finished the hosted page; returns the checkout.session.completed event."""
        session = self.sessions[session_id]
        params = self._session_params[session_id]
        method = self._new_payment_method(card, session["customer"])
        if session["mode"] == "setup":
            intent = {
                "id": self._id("seti"),
                "object": "setup_intent",
                "status": "succeeded",
                "customer": session["customer"],
                "payment_method": method["id"],
                "usage": "off_session",
                "metadata": params.get("setup_intent_data", {}).get("metadata", {}),
            }
            self.setup_intents[intent["id"]] = intent
            session.update(status="complete", setup_intent=intent["id"])
            self._emit("setup_intent.succeeded", intent)
        else:
            data = params.get("payment_intent_data", {})
            if session["customer"] is None and params.get("customer_creation") == "always":
                customer: JSON = {"id": self._id("cus"), "object": "customer",
                                  "phone": None, "metadata": {}, "created": int(self.clock())}
                self.customers[customer["id"]] = customer
                session["customer"] = customer["id"]
            intent = self._payment_intent(
                amount=session["amount_total"],
                currency=session["currency"],
                customer=session["customer"],
                method=method["id"],
                metadata=data.get("metadata", {}),
            )
            if data.get("setup_future_usage"):
                intent["setup_future_usage"] = data["setup_future_usage"]
                method["customer"] = session["customer"]  # attached for later use
            self._settle(intent, off_session=False)
            session.update(status="complete", payment_status="paid", payment_intent=intent["id"])
        return self._emit("checkout.session.completed", session)

    def authenticate(self, payment_intent_id: str) -> JSON:
        """The supporter passed the bank's challenge behind `redirect_to_url`."""
        intent = self.payment_intents[payment_intent_id]
        assert intent["status"] == "requires_action"
        self._succeed(intent)
        return self.events_of_type("payment_intent.succeeded")[-1]

    def refund(self, payment_intent_id: str, amount_cents: int | None = None) -> JSON:
        charge = self.charges[self.payment_intents[payment_intent_id]["latest_charge"]]
        refund = charge["amount"] if amount_cents is None else amount_cents
        charge["amount_refunded"] += refund
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return self._emit("charge.refunded", charge)

    def dispute(self, payment_intent_id: str, reason: str = "fraudulent") -> JSON:
        charge = self.charges[self.payment_intents[payment_intent_id]["latest_charge"]]
        charge["disputed"] = True
        dispute = {
            "id": self._id("dp"),
            "object": "dispute",
            "amount": charge["amount"],
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": payment_intent_id,
            "reason": reason,
            "status": "needs_response",
            "metadata": {},
        }
        return self._emit("charge.dispute.created", dispute)

    def event(self, event_type: str, obj: JSON) -> JSON:
        """An event around any object (for types the gateway ignores, or odd shapes)."""
        return self._emit(event_type, obj)

    # --- HTTP plumbing ---------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Records any crash of the fake itself: a test's teardown asserts there was none,
        so a bug here cannot hide behind the client's retries."""
        try:
            return await self._serve(request, handler)
        except Exception as err:
            self.crashes.append(err)
            raise

    async def _serve(self, request: web.Request, handler: Any) -> web.StreamResponse:
        source = await request.post() if request.method == "POST" else request.query
        pairs = tuple(sorted((key, str(value)) for key, value in source.items()))
        params = nested(pairs)
        request[PARAMS] = params
        key = request.headers.get("Idempotency-Key")
        self.requests.append(RecordedRequest(request.method, request.path, key, params))
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, {"type": "invalid_request_error", "message": "Invalid API Key"})
        fault = self._faults.popleft() if self._faults else None
        if fault == "before":
            return _error(500, {"type": "api_error", "message": "An unknown error occurred"})
        response = await self._answer(request, handler, key, pairs)
        if fault == "after":
            return _error(500, {"type": "api_error", "message": "An unknown error occurred"})
        if fault == "drop":
            assert request.transport is not None
            request.transport.abort()
        return response

    async def _answer(
        self,
        request: web.Request,
        handler: Any,
        key: str | None,
        pairs: tuple[tuple[str, str], ...],
    ) -> web.Response:
        if key is None or request.method != "POST":
            return await self._handled(request, handler)
        fingerprint = (request.method, request.path, pairs)
        saved = self._saved.get(key)
        if saved is not None:
            if saved.fingerprint != fingerprint:
                message = (
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request."
                )
                return _error(400, {"type": "idempotency_error", "message": message})
            return web.Response(
                body=saved.body,
                status=saved.status,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = await self._handled(request, handler)
        if response.status < 400 or response.status == 402:
            assert isinstance(response.body, bytes)
            self._saved[key] = _Saved(fingerprint, response.status, response.body)
        return response

    async def _handled(self, request: web.Request, handler: Any) -> web.Response:
        try:
            obj = await handler(request)
        except StripeApiError as err:
            return _error(err.status, err.error)
        return _json(200, obj)

    # --- endpoints -------------------------------------------------------------------------

    async def _create_refund(self, request: web.Request) -> JSON:
        """A refund of a PaymentIntent's charge; its `charge.refunded` event is queued."""
        p = request[PARAMS]
        intent = self.payment_intents.get(p.get("payment_intent", ""))
        if intent is None or intent.get("latest_charge") is None:
            raise _invalid("payment_intent", "No such payment_intent", code="resource_missing")
        charge = self.charges[intent["latest_charge"]]
        left = charge["amount"] - charge["amount_refunded"]
        amount = int(p.get("amount", left))
        if not 0 < amount <= left:
            raise _invalid("amount", f"Refund amount ({amount}) is greater than unrefunded "
                                     f"amount on charge ({left})", code="amount_too_large")
        self.refund(intent["id"], amount)
        return {"id": self._id("re"), "object": "refund", "amount": amount,
                "currency": charge["currency"], "payment_intent": intent["id"],
                "charge": charge["id"], "status": "succeeded"}

    async def _create_customer(self, request: web.Request) -> JSON:
        p = request[PARAMS]
        customer = {
            "id": self._id("cus"),
            "object": "customer",
            "phone": p.get("phone"),
            "metadata": p.get("metadata", {}),
            "created": int(time.time()),
        }
        self.customers[customer["id"]] = customer
        return customer

    async def _delete_customer(self, request: web.Request) -> JSON:
        """Deleting a Customer removes it (and its cards' attachment); a second delete is 404."""
        customer_id = request.match_info["id"]
        if self.customers.pop(customer_id, None) is None:
            raise _invalid("id", f"No such customer: '{customer_id}'", code="resource_missing",
                           status=404)
        return {"id": customer_id, "object": "customer", "deleted": True}

    async def _create_session(self, request: web.Request) -> JSON:
        p = request[PARAMS]
        mode = p.get("mode")
        if mode not in ("setup", "payment"):
            raise _invalid("mode", "Invalid mode: must be one of payment, setup or subscription")
        if not p.get("success_url"):
            raise _invalid("success_url", "Missing required param: success_url.")
        customer = self._customer(p.get("customer"))
        amount_total = None
        currency = p.get("currency")
        if mode == "payment":
            items = p.get("line_items")
            if not items:
                raise _invalid("line_items", "line_items is required in payment mode.")
            amount_total = sum(
                int(i["price_data"]["unit_amount"]) * int(i["quantity"]) for i in items
            )
            currency = items[0]["price_data"]["currency"]
        elif not currency and not p.get("allowed_payment_method_types"):
            raise _invalid("currency", "currency is required in setup mode.")
        now = int(self.clock())
        expires_at = int(p.get("expires_at", now + 24 * 3600))
        if not now + 30 * 60 <= expires_at <= now + 24 * 3600:
            raise _invalid("expires_at", "The `expires_at` timestamp must be between 30 "
                           "minutes and 24 hours after the Checkout Session is created.")
        session_id = self._id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "url": f"{self.base_url}/c/pay/{session_id}",
            "customer": customer,
            "client_reference_id": p.get("client_reference_id"),
            "metadata": p.get("metadata", {}),
            "amount_total": amount_total,
            "currency": currency,
            "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
            "payment_intent": None,
            "setup_intent": None,
            "success_url": p["success_url"],
            "cancel_url": p.get("cancel_url"),
            "expires_at": expires_at,
            "customer_creation": p.get("customer_creation"),
        }
        self.sessions[session_id] = session
        self._session_params[session_id] = p
        return session

    async def _create_payment_intent(self, request: web.Request) -> JSON:
        p = request[PARAMS]
        amount = int(p.get("amount", "0"))
        if amount < 50:
            raise _invalid("amount", "Amount must be at least $0.50 usd", code="amount_too_small")
        method = self.payment_methods.get(p.get("payment_method", "")) or (
            self._new_payment_method(p["payment_method"], None)
            if p.get("payment_method") in TEST_CARDS
            else None
        )
        if method is None:
            raise _invalid("payment_method", "No such PaymentMethod", code="resource_missing")
        customer = self._customer(p.get("customer"))
        if method["customer"] not in (None, customer):
            raise _invalid("payment_method", "The PaymentMethod belongs to another Customer.")
        intent = self._payment_intent(
            amount=amount,
            currency=p["currency"],
            customer=customer,
            method=method["id"],
            metadata=p.get("metadata", {}),
        )
        if p.get("confirm") == "true":
            self._settle(intent, off_session=p.get("off_session") == "true")
        return intent

    async def _retrieve_payment_intent(self, request: web.Request) -> JSON:
        intent = self.payment_intents.get(request.match_info["id"])
        if intent is None:
            raise _invalid("intent", "No such payment_intent", code="resource_missing", status=404)
        if "payment_method" in request[PARAMS].get("expand", []):
            return {**intent, "payment_method": self.payment_methods[intent["payment_method"]]}
        return intent

    async def _retrieve_setup_intent(self, request: web.Request) -> JSON:
        intent = self.setup_intents.get(request.match_info["id"])
        if intent is None:
            raise _invalid("intent", "No such setupintent", code="resource_missing", status=404)
        expand = request[PARAMS].get("expand", [])
        if "payment_method" in expand:
            return {**intent, "payment_method": self.payment_methods[intent["payment_method"]]}
        return intent

    # --- the payment engine ----------------------------------------------------------------

    def _payment_intent(
        self, *, amount: int, currency: str, customer: str | None, method: str, metadata: JSON
    ) -> JSON:
        intent: JSON = {
            "id": self._id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "customer": customer,
            "payment_method": method,
            "status": "requires_confirmation",
            "latest_charge": None,
            "next_action": None,
            "last_payment_error": None,
            "setup_future_usage": None,
            "metadata": metadata,
        }
        self.payment_intents[intent["id"]] = intent
        return intent

    def _settle(self, intent: JSON, *, off_session: bool) -> None:
        card = self.payment_methods[intent["payment_method"]]["_test_card"]
        if card.behaviour == "succeed":
            self._succeed(intent)
        elif card.behaviour == "decline":
            self._fail(intent, "card_declined", card.decline_code, "Your card was declined.")
        elif card.behaviour == "authenticate" and off_session:
            message = "Your card was declined. This transaction requires authentication."
            self._fail(intent, "authentication_required", "authentication_required", message)
        else:
            url = f"{self.base_url}/authenticate/{intent['id']}"
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": url, "return_url": None},
            }

    def _succeed(self, intent: JSON) -> None:
        charge = self._charge(intent, "succeeded")
        intent.update(status="succeeded", amount_received=intent["amount"], next_action=None)
        intent["latest_charge"] = charge["id"]
        self._emit("payment_intent.succeeded", intent)
        self._emit("charge.succeeded", charge)

    def _fail(self, intent: JSON, code: str, decline_code: str | None, message: str) -> None:
        charge = self._charge(intent, "failed")
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "charge": charge["id"],
        }
        intent.update(
            status="requires_payment_method", latest_charge=charge["id"], last_payment_error=error
        )
        self._emit("payment_intent.payment_failed", intent)
        raise StripeApiError(402, {**error, "payment_intent": dict(intent)})

    def _charge(self, intent: JSON, status: str) -> JSON:
        charge = {
            "id": self._id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": 0,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "status": status,
            "refunded": False,
            "disputed": False,
            "metadata": {},
        }
        self.charges[charge["id"]] = charge
        return charge

    def _new_payment_method(self, card_name: str, customer: str | None) -> JSON:
        card = TEST_CARDS[card_name]
        method: JSON = {
            "id": self._id("pm"),
            "object": "payment_method",
            "type": "card",
            "customer": customer,
            "card": {"brand": card.brand, "last4": card.last4, "exp_month": 12, "exp_year": 2034},
            "_test_card": card,
        }
        self.payment_methods[method["id"]] = method
        return method

    def _customer(self, customer_id: str | None) -> str | None:
        if customer_id is not None and customer_id not in self.customers:
            message = f"No such customer: '{customer_id}'"
            raise _invalid("customer", message, code="resource_missing")
        return customer_id

    def _emit(self, event_type: str, obj: JSON) -> JSON:
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "data": {"object": _public(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        self.events.append(event)
        return event

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}{secrets.token_hex(4)}"


def nested(pairs: tuple[tuple[str, str], ...]) -> JSON:
    """Stripe's form encoding back to objects: a[b][0][c]=v -> {"a": {"b": [{"c": "v"}]}}."""
    root: JSON = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    listed = _listify(root)
    assert isinstance(listed, dict)
    return listed


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_listify(node[key]) for key in sorted(node, key=int)]
    return {key: _listify(value) for key, value in node.items()}


def _public(value: Any) -> Any:
    """A deep copy without the fake's private keys (as Stripe would serialize it)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def _json(status: int, obj: JSON) -> web.Response:
    return web.Response(
        body=json.dumps(_public(obj), indent=2).encode(),
        status=status,
        content_type="application/json",
        headers={"Request-Id": f"req_{secrets.token_hex(7)}"},
    )


def _error(status: int, error: JSON) -> web.Response:
    return _json(status, {"error": _public(error)})


def _invalid(param: str, message: str, *, code: str | None = None, status: int = 400) -> Exception:
    error = {"type": "invalid_request_error", "param": param, "message": message}
    if code is not None:
        error["code"] = code
    return StripeApiError(status, error)


# --- webhooks --------------------------------------------------------------------------------


def stripe_signature(payload: bytes, secret: str, *, timestamp: int) -> str:
    """The Stripe-Signature header Stripe sends: t=<unix seconds>,v1=<hex HMAC-SHA256>."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_body(event: JSON) -> bytes:
    """Stripe sends events pretty-printed with two-space indentation."""
    return json.dumps(event, indent=2).encode()


async def send_webhook(
    session: aiohttp.ClientSession,
    url: str,
    event: JSON,
    secret: str,
    *,
    timestamp: int | None = None,
    body: bytes | None = None,
    signature: str | None = None,
) -> tuple[int, JSON]:
    """POST one event as Stripe does; `body`/`signature` override what is sent (tampering)."""
    payload = webhook_body(event)
    header = signature or stripe_signature(
        payload, secret, timestamp=int(time.time()) if timestamp is None else timestamp
    )
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": header,
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    async with session.post(url, data=body if body is not None else payload, headers=headers) as r:
        return r.status, await r.json()
