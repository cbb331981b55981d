"""Settlement imports and lines (migration 007) and the ledger reads finance needs. SQL only.

Lines are only ever inserted; `ON CONFLICT (source, row_key) DO NOTHING` is
the row-level idempotency, the `(source, sha256)` key of an import the
file-level one. Which donation a line belongs to is resolved when read (the
`settlement_matches` view), so import order cannot change a match.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from gateway.resend_rules import BILLED_UNKNOWN
from gateway.store.db import affected, columns

LOCK_IMPORTS = "SELECT pg_advisory_xact_lock(7413007)"

GET_IMPORT = """
SELECT i.id, i.name, i.mapping, i.rows_total, i.rows_bad, i.imported_at,
       (SELECT count(*) FROM settlement_lines l WHERE l.import_id = i.id) AS rows_new
FROM settlement_imports i WHERE i.source = $1 AND i.sha256 = $2
"""

INSERT_IMPORT = """
INSERT INTO settlement_imports (source, name, sha256, mapping, rows_total, rows_bad, problems)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
RETURNING id
"""

_LINE_COLUMNS = ("source", "row_key", "line_no", "kind", "message_id", "donation_ref",
                 "payment_ref", "source_ref", "msisdn", "carrier", "amount_cents", "fee_cents",
                 "net_cents", "currency", "settled_on", "description")

INSERT_LINES = f"""
INSERT INTO settlement_lines (import_id, {", ".join(_LINE_COLUMNS)})
SELECT $1, k.* FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                            $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[],
                            $12::bigint[], $13::bigint[], $14::bigint[], $15::text[],
                            $16::date[], $17::text[]) AS k
ON CONFLICT (source, row_key) DO NOTHING
"""

LIST_LINES = """
SELECT l.id, l.source, l.row_key, l.line_no, i.name AS file, l.kind, l.amount_cents,
       l.fee_cents, l.net_cents, l.currency, l.settled_on, l.message_id, l.donation_ref,
       l.payment_ref, l.carrier, m.donation_id
FROM settlement_lines l
JOIN settlement_imports i ON i.id = l.import_id
JOIN settlement_matches m ON m.line_id = l.id
WHERE $1::bigint[] IS NULL OR m.donation_id = ANY($1::bigint[])
ORDER BY l.id
"""

# Donations whose money the ledger says was taken (billed, charged; later refunds
# and disputes included), and carrier ones whose billed MT was cut off mid-send
# (`billed_unknown`: only the settlement can say whether they were billed).
LIST_LEDGER = f"""
SELECT r.id, r.method, r.amount_cents, r.currency, r.program, r.committee, r.msisdn,
       r.confirmed_at, r.outcome, r.outcome_at, r.refunded_cents::bigint, r.disputed,
       r.outcome IS NULL AS billed_unknown,
       coalesce((SELECT upper(q.data->>'keyword') FROM donation_events q
                 WHERE q.donation_id = r.id AND q.kind = 'requested' LIMIT 1),
                k.keyword, upper(split_part(btrim(i.body), ' ', 1))) AS keyword
FROM donation_report r
JOIN inbound i ON i.id = r.id
LEFT JOIN LATERAL (
    SELECT upper(ce.data->>'keyword') AS keyword FROM contact_events ce
    WHERE ce.inbound_id = r.id AND ce.name = 'donation_requested' LIMIT 1
) k ON true
WHERE (r.outcome IN ('billed', 'charged')
       OR (r.status = 'billing_submitted' AND EXISTS (
           SELECT 1 FROM outbound o WHERE o.donation_id = r.id AND o.status = 'failed'
             AND o.last_error LIKE '{BILLED_UNKNOWN}%')))
  AND ($1::timestamptz IS NULL OR r.confirmed_at >= $1)
  AND ($2::timestamptz IS NULL OR r.confirmed_at < $2)
  AND ($3::text IS NULL OR r.committee = $3)
ORDER BY r.confirmed_at, r.id
"""

LEDGER_TOTALS = """
SELECT method, count(*) AS n, coalesce(sum(amount_cents), 0)::bigint AS cents
FROM donation_report WHERE outcome IN ('billed', 'charged')
GROUP BY method
"""


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """A line to import: what a file row or a Stripe balance transaction says."""

    source: str  # carrier | stripe
    row_key: str  # identity across files (finance/parse.py)
    line_no: int  # 1-based line in its file (header = 1); API: rank in the listing
    kind: str  # payment | refund | chargeback | write_off | fee | payout | other
    amount_cents: int  # gross, signed: negative is money taken back
    fee_cents: int
    net_cents: int  # amount - fee
    currency: str
    settled_on: date
    message_id: str | None = None
    donation_ref: int | None = None
    payment_ref: str | None = None
    source_ref: str | None = None
    msisdn: str | None = None
    carrier: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ImportRow:
    id: int
    name: str
    mapping: str
    rows_total: int
    rows_bad: int
    rows_new: int
    imported_at: datetime


@dataclass(frozen=True, slots=True)
class MatchedLine:
    """A stored line with the donation it resolves to (None: unknown in the ledger)."""

    id: int
    source: str
    row_key: str
    line_no: int
    file: str
    kind: str
    amount_cents: int
    fee_cents: int
    net_cents: int
    currency: str
    settled_on: date
    message_id: str | None
    donation_ref: int | None
    payment_ref: str | None
    carrier: str | None
    donation_id: int | None


@dataclass(frozen=True, slots=True)
class LedgerItem:
    id: int
    method: str  # carrier | card
    amount_cents: int
    currency: str
    program: str
    committee: str
    msisdn: str
    confirmed_at: datetime  # the legal date of receipt
    outcome: str | None  # billed | charged; None when billed_unknown
    outcome_at: datetime | None
    refunded_cents: int
    disputed: bool
    billed_unknown: bool
    keyword: str


async def lock_imports(conn: asyncpg.Connection) -> None:
    """One import at a time until COMMIT: two runs of one file cannot both insert it."""
    await conn.execute(LOCK_IMPORTS)


async def get_import(conn: asyncpg.Connection, source: str, sha256: str) -> ImportRow | None:
    row = await conn.fetchrow(GET_IMPORT, source, sha256)
    return None if row is None else ImportRow(**dict(row))


async def insert_import(conn: asyncpg.Connection, *, source: str, name: str, sha256: str,
                        mapping: str, rows_total: int, rows_bad: int,
                        problems: Sequence[dict[str, Any]]) -> int:
    import_id: int = await conn.fetchval(INSERT_IMPORT, source, name, sha256, mapping,
                                         rows_total, rows_bad, json.dumps(list(problems)))
    return import_id


async def insert_lines(conn: asyncpg.Connection, import_id: int,
                       lines: Sequence[SettlementLine]) -> int:
    """Insert the lines not already known (by source and row key); returns how many."""
    if not lines:
        return 0
    status = await conn.execute(INSERT_LINES, import_id, *columns(lines, *_LINE_COLUMNS))
    return int(status.split()[-1])


async def list_lines(conn: asyncpg.Connection, donation_ids: Sequence[int] | None = None
                     ) -> list[MatchedLine]:
    """Every line (or those of these donations) with its resolved donation."""
    ids = None if donation_ids is None else list(donation_ids)
    return [MatchedLine(**dict(r)) for r in await conn.fetch(LIST_LINES, ids)]


async def list_ledger(conn: asyncpg.Connection, *, confirmed_from: datetime | None = None,
                      confirmed_to: datetime | None = None, committee: str | None = None
                      ) -> list[LedgerItem]:
    """Billed/charged (and billed_unknown) donations received in [from, to)."""
    records = await conn.fetch(LIST_LEDGER, confirmed_from, confirmed_to, committee)
    return [LedgerItem(**dict(r)) for r in records]


async def ledger_totals(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    """method -> (count, cents) of money taken, straight from the ledger view.

    Read apart from `list_ledger` on purpose: the summary checks its buckets
    against this independent total.
    """
    return {r["method"]: (r["n"], r["cents"]) for r in await conn.fetch(LEDGER_TOTALS)}


# The committees donations were recorded for, so a report's --committee typo
# is an error listing them rather than an empty report.
LIST_COMMITTEES = "SELECT DISTINCT committee FROM donations WHERE committee IS NOT NULL ORDER BY 1"


async def list_committees(conn: asyncpg.Connection) -> list[str]:
    return [row["committee"] for row in await conn.fetch(LIST_COMMITTEES)]


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

PSEUDONYMIZE_SETTLEMENT_LINES = "UPDATE settlement_lines SET msisdn = $2 WHERE msisdn = $1"


async def pseudonymize_settlement_lines(
    conn: asyncpg.Connection, msisdn: str, pseudonym: str
) -> int:
    return affected(await conn.execute(PSEUDONYMIZE_SETTLEMENT_LINES, msisdn, pseudonym))
