"""Stripe balance transactions through the official library's async client, as settlement lines.

Why balance transactions: they are what Stripe actually moved on our
balance (a charge net of its fee, a refund, a dispute and its fee, a
payout), the same items as the Dashboard's balance export, so an API import
and a CSV import of one period share row keys (`id:txn_...`) and never
double count. Listing is newest first and paginated with `starting_after`
until `has_more` is false; each page expands `data.source` so a charge,
refund or dispute names its PaymentIntent, which is what our ledger records.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import stripe

from gateway.billing.stripe_client import StripeConfig, as_dict, id_of, translated
from gateway.finance.conn import Db
from gateway.finance.formats import STRIPE_KINDS
from gateway.finance.importer import ImportResult, import_lines
from gateway.finance.lines import Problem, SettlementLine
from gateway.finance.money import MoneyError, currency_code

PAGE_SIZE = 100


async def fetch_balance_transactions(
    config: StripeConfig, *, created_from: datetime | None = None,
    created_to: datetime | None = None, page_size: int = PAGE_SIZE,
    http_client: stripe.HTTPClient | None = None,
) -> list[dict[str, Any]]:
    """Every balance transaction created in [from, to), newest first, all pages."""
    http = http_client or stripe.AIOHTTPClient(timeout=config.timeout_s)
    client = stripe.StripeClient(
        config.api_key, base_addresses={"api": config.api_base.rstrip("/")},
        max_network_retries=config.max_network_retries, http_client=http)
    params: dict[str, Any] = {"limit": page_size, "expand": ["data.source"]}
    created = {key: int(at.timestamp()) for key, at in (("gte", created_from),
                                                         ("lt", created_to)) if at}
    if created:
        params["created"] = created
    found: list[dict[str, Any]] = []
    try:
        while True:
            page = await client.v1.balance_transactions.list_async(params)  # type: ignore[arg-type]
            items = [t.to_dict() for t in page.data]
            found.extend(items)
            if not page.has_more or not items:
                return found
            params["starting_after"] = items[-1]["id"]
    except stripe.StripeError as err:
        raise translated(err, "list Stripe balance transactions") from None
    finally:
        if http_client is None:
            await http.close_async()  # type: ignore[no-untyped-call]


def line_of(txn: dict[str, Any], rank: int, name: str) -> SettlementLine | Problem:
    """One balance transaction as a line, or the problem that keeps it out."""
    where = f"{txn.get('id')}"
    try:
        currency = currency_code(str(txn.get("currency") or ""))
        amount, fee, net = (int(txn[k]) for k in ("amount", "fee", "net"))
    except MoneyError as err:
        return Problem(name, rank, "currency", f"{where}: {err}")
    except (KeyError, TypeError, ValueError):
        return Problem(name, rank, "amount", f"{where}: amount, fee and net must be integers")
    if amount - fee != net:
        return Problem(name, rank, "net", f"{where}: net {net} is not amount {amount} - fee {fee}")
    source = txn.get("source")
    details = as_dict(source)
    kind = STRIPE_KINDS.get(str(txn.get("reporting_category")), None) or \
        STRIPE_KINDS.get(str(txn.get("type")), "other")
    ref = str(as_dict(details.get("metadata")).get("donation_ref") or "")
    return SettlementLine(
        source="stripe", row_key=f"id:{txn['id']}", line_no=rank, kind=kind,
        amount_cents=amount, fee_cents=fee, net_cents=net, currency=currency,
        settled_on=datetime.fromtimestamp(int(txn.get("created") or 0), UTC).date(),
        donation_ref=int(ref) if ref.isdigit() else None,
        payment_ref=id_of(details.get("payment_intent")), source_ref=id_of(source),
        description=txn.get("description"))


async def import_stripe_api(db: Db, config: StripeConfig, *,
                            created_from: datetime | None = None,
                            created_to: datetime | None = None, page_size: int = PAGE_SIZE,
                            http_client: stripe.HTTPClient | None = None) -> ImportResult:
    """Fetch (outside any transaction), then import in one: the same listing twice adds nothing."""
    txns = await fetch_balance_transactions(config, created_from=created_from,
                                            created_to=created_to, page_size=page_size,
                                            http_client=http_client)
    span = "..".join(at.date().isoformat() if at else "" for at in (created_from, created_to))
    name = f"stripe-api {span}".rstrip(" .")
    lines: list[SettlementLine] = []
    problems: list[Problem] = []
    for rank, txn in enumerate(txns, start=1):
        found = line_of(txn, rank, name)
        if isinstance(found, Problem):
            problems.append(found)
        else:
            lines.append(found)
    digest = hashlib.sha256(json.dumps(sorted(txns, key=lambda t: str(t.get("id"))),
                                       sort_keys=True).encode()).hexdigest()
    return await import_lines(db, source="stripe", name=name, sha256=digest,
                              mapping="stripe_api", rows=len(txns), lines=lines,
                              problems=problems)
