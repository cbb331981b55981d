"""Stripe's balance transactions list, locally (tests only), for the real stripe library.

GET /v1/balance_transactions as Stripe serves it: newest first, `limit`,
`starting_after` / `has_more` pagination, `created[gte]` / `created[lt]`,
and `expand[]=data.source` (the source object instead of its id). Tests add
transactions with `charge`, `refund`, `dispute` and `payout`, and read
`pages_served` to see that the importer walked every page.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.loopback import LoopbackServer

JSON = dict[str, Any]


@dataclass
class FakeStripeBalance(LoopbackServer):
    api_key: str = field(default_factory=lambda: f"sk_test_{secrets.token_hex(12)}", repr=False)
    transactions: list[JSON] = field(default_factory=list)  # oldest first
    pages_served: int = 0
    fail_next: int = 0  # answer 500 this many times (the library retries)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v1/balance_transactions", self._list)
        return await self.serve(app)

    # --- what happened on the account ------------------------------------------------------

    def charge(self, amount: int, *, payment_intent: str, fee: int = 0, created: int | None = None,
               metadata: JSON | None = None, currency: str = "usd") -> JSON:
        source = {"id": self._id("ch"), "object": "charge", "amount": amount,
                  "payment_intent": payment_intent, "metadata": metadata or {}}
        return self._txn("charge", "charge", amount, fee, source, created, currency)

    def refund(self, amount: int, *, payment_intent: str, created: int | None = None) -> JSON:
        source = {"id": self._id("re"), "object": "refund", "amount": amount,
                  "payment_intent": payment_intent}
        return self._txn("refund", "refund", -amount, 0, source, created, "usd")

    def dispute(self, amount: int, *, payment_intent: str, fee: int = 1500,
                created: int | None = None) -> JSON:
        source = {"id": self._id("dp"), "object": "dispute", "amount": amount,
                  "payment_intent": payment_intent}
        return self._txn("adjustment", "dispute", -amount, fee, source, created, "usd")

    def payout(self, amount: int, *, created: int | None = None) -> JSON:
        source = {"id": self._id("po"), "object": "payout", "amount": amount}
        return self._txn("payout", "payout", -amount, 0, source, created, "usd")

    def _txn(self, kind: str, category: str, amount: int, fee: int, source: JSON,
             created: int | None, currency: str) -> JSON:
        txn = {"id": self._id("txn"), "object": "balance_transaction", "type": kind,
               "reporting_category": category, "amount": amount, "fee": fee,
               "net": amount - fee, "currency": currency, "status": "available",
               "created": created if created is not None else int(time.time()),
               "available_on": int(time.time()), "description": None, "source": source}
        self.transactions.append(txn)
        return txn

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}{secrets.token_hex(4)}"

    # --- the endpoint ---------------------------------------------------------------------

    async def _list(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"type": "invalid_request_error",
                                                "message": "Invalid API Key"}}, status=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"error": {"type": "api_error",
                                                "message": "try again"}}, status=500)
        q = request.query
        newest_first = sorted(self.transactions, key=lambda t: (t["created"], t["id"]),
                              reverse=True)
        if "created[gte]" in q:
            newest_first = [t for t in newest_first if t["created"] >= int(q["created[gte]"])]
        if "created[lt]" in q:
            newest_first = [t for t in newest_first if t["created"] < int(q["created[lt]"])]
        after = q.get("starting_after")
        if after is not None:
            ids = [t["id"] for t in newest_first]
            newest_first = newest_first[ids.index(after) + 1:]
        limit = int(q.get("limit", "10"))
        page = newest_first[:limit]
        expanded = "data.source" in [v for k, v in q.items() if k.startswith("expand")]
        data = [t if expanded else {**t, "source": t["source"]["id"]} for t in page]
        self.pages_served += 1
        return web.json_response({"object": "list", "url": "/v1/balance_transactions",
                                  "has_more": len(newest_first) > limit, "data": data})
