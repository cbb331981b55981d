"""Donations and their append-only ledger (migration 003). SQL only, one statement per batch.

A donation's id is the requesting MO's id (the engine's `donation_ref`), so
the row, its Stripe idempotency key and its billed MT all share one number.
Its events are only ever inserted; the database keeps the money invariants
(one confirmation, one charge attempt, one outcome per donation; nothing
charged without a confirmation) and projects `status` and `confirmed_at`
onto the donation row, and allows only the transitions of billing/ledger.py
(migration 100). Writers may repeat themselves: a duplicate or out-of-order
event is dropped, and `insert_events` returns what was actually recorded.

Functions that claim rows (`claim_to_charge`, `expire_due`) lock them with
FOR UPDATE SKIP LOCKED and must run inside the caller's transaction, like
the outbox claim: several gateway processes may work the same queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.store import webhook_events
from gateway.store.db import affected, columns
from gateway.store.webhook_events import DONATION_EVENT

# Donations whose money is, or may soon be, taken: they count towards the limits.
COUNTED_STATUSES: Final = ("billing_submitted", "charge_requested", "requires_action", "billed",
                           "charged", "partially_refunded", "refunded", "disputed")

_DONATION_COLUMNS = """id, msisdn, shortcode, program, committee, method, amount_cents, currency,
    requested_at, expires_at"""

INSERT_DONATIONS = f"""
INSERT INTO donations ({_DONATION_COLUMNS})
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::bigint[], $8::text[], $9::timestamptz[], $10::timestamptz[])
ON CONFLICT (id) DO NOTHING
"""

# The MT of a `reply_index` is the MO's reply of that rank (0-based, id order), as
# in store/consent.py: the decision's replies were inserted just before.
INSERT_EVENTS = """
INSERT INTO donation_events (donation_id, kind, amount_cents, currency, data, inbound_id,
                             outbound_id, external_ref, occurred_at)
SELECT k.donation_id, k.kind, k.amount_cents, k.currency, k.data::jsonb, k.inbound_id,
       coalesce(k.outbound_id, mt.id), k.external_ref, k.occurred_at
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],
            $7::int[], $8::bigint[], $9::text[], $10::timestamptz[])
     WITH ORDINALITY AS k(donation_id, kind, amount_cents, currency, data, inbound_id,
                          reply_index, outbound_id, external_ref, occurred_at, n)
LEFT JOIN LATERAL (
    SELECT o.id FROM outbound o
    WHERE k.reply_index IS NOT NULL AND o.in_reply_to = k.inbound_id
    ORDER BY o.id OFFSET k.reply_index LIMIT 1
) mt ON true
ORDER BY k.donation_id, k.n
ON CONFLICT DO NOTHING
RETURNING id, donation_id, kind
"""

_ROW = """d.id, d.msisdn, d.shortcode, d.program, d.committee, d.method, d.amount_cents,
    d.currency, d.requested_at, d.expires_at, d.confirmed_at, d.status, d.last_event_at"""

LIST_DONATIONS = f"SELECT {_ROW} FROM donations d WHERE d.id = ANY($1::bigint[]) ORDER BY d.id"

LIST_EVENTS = """
SELECT id, donation_id, kind, occurred_at, amount_cents, currency, data::text AS data,
       inbound_id, outbound_id, external_ref, recorded_at
FROM donation_events WHERE donation_id = ANY($1::bigint[]) ORDER BY donation_id, id
"""

CLAIM_TO_CHARGE = f"""
SELECT {_ROW} FROM donations d WHERE d.status = 'confirmed'
ORDER BY d.id LIMIT $1
FOR UPDATE SKIP LOCKED
"""

# One statement: claim what is past its deadline (plus a grace period for a YES
# still in the MO pipeline) and record each expiry at its deadline. A Checkout
# page cannot close sooner than 30 minutes after it opens (Stripe's rule), so a
# request whose page outlives it (`page_expires_at` on its confirmation_sent)
# stays open until the page closes: a gift paid there is still a gift.
EXPIRE_DUE = """
WITH due AS (
    SELECT d.id, CASE WHEN d.status = 'awaiting_details'
                      THEN d.last_event_at + make_interval(secs => $2)
                      ELSE greatest(d.expires_at, p.page_expires_at) END AS deadline
    FROM donations d
    LEFT JOIN LATERAL (
        SELECT (e.data->>'page_expires_at')::timestamptz AS page_expires_at
        FROM donation_events e
        WHERE d.status = 'awaiting_confirmation' AND e.donation_id = d.id
          AND e.kind = 'confirmation_sent' AND e.data ? 'page_expires_at'
    ) p ON true
    WHERE (d.status IN ('requested', 'awaiting_confirmation') AND d.expires_at < $1
           AND (p.page_expires_at IS NULL OR p.page_expires_at < $1))
       OR (d.status = 'awaiting_details' AND d.last_event_at + make_interval(secs => $2) < $1)
    ORDER BY d.id LIMIT $3
    FOR UPDATE OF d SKIP LOCKED
)
INSERT INTO donation_events (donation_id, kind, data, occurred_at)
SELECT due.id, 'expired', '{"by": "sweep"}'::jsonb, due.deadline FROM due ORDER BY due.id
ON CONFLICT DO NOTHING
RETURNING donation_id
"""

LOCK_DONOR = "SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 7413))"

DONOR_TOTALS = f"""
WITH keys AS (SELECT * FROM unnest($1::text[], $2::text[]) AS k(msisdn, committee)),
counted AS (
    SELECT d.msisdn, d.committee, d.method, d.confirmed_at,
           d.amount_cents - coalesce((SELECT sum(e.amount_cents) FROM donation_events e
                                      WHERE e.donation_id = d.id AND e.kind = 'refunded'), 0)
               AS net
    FROM donations d JOIN keys k ON d.msisdn = k.msisdn AND d.committee = k.committee
    WHERE d.status IN ({", ".join(f"'{s}'" for s in COUNTED_STATUSES)})
      AND d.confirmed_at >= least($3::timestamptz, $5::timestamptz, $7::timestamptz)
      AND d.confirmed_at < greatest($4::timestamptz, $6::timestamptz, $8::timestamptz)
)
SELECT msisdn, committee,
  coalesce(sum(net) FILTER (WHERE method = 'carrier' AND confirmed_at >= $3
                            AND confirmed_at < $4), 0) AS month_by_phone_cents,
  coalesce(sum(net) FILTER (WHERE method = 'carrier' AND confirmed_at >= $5
                            AND confirmed_at < $6), 0) AS cycle_by_phone_cents,
  coalesce(sum(net) FILTER (WHERE confirmed_at >= $5 AND confirmed_at < $6), 0) AS cycle_cents,
  coalesce(sum(net) FILTER (WHERE confirmed_at >= $7 AND confirmed_at < $8), 0)
      AS election_cents
FROM counted GROUP BY msisdn, committee
"""

_DETAIL_COLUMNS = """msisdn, committee, name, street, city, region, postal_code, country,
    employer, occupation, source, donation_id, received_at"""

INSERT_DETAILS = f"""
INSERT INTO donor_details ({_DETAIL_COLUMNS})
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                     $12::bigint[], $13::timestamptz[])
"""

LIST_DETAILS = f"""
SELECT DISTINCT ON (d.msisdn, d.committee) {", ".join(
    "d." + c.strip() for c in _DETAIL_COLUMNS.split(","))}
FROM donor_details d
JOIN unnest($1::text[], $2::text[]) AS k(msisdn, committee)
  ON d.msisdn = k.msisdn AND d.committee = k.committee
ORDER BY d.msisdn, d.committee, d.id DESC
"""

# Donations of one donor held for their details, with what each hold asked for.
LOCK_HELD = f"""
SELECT {_ROW}, (SELECT e.data::text FROM donation_events e
                WHERE e.donation_id = d.id AND e.kind = 'details_requested'
                ORDER BY e.id DESC LIMIT 1) AS requested
FROM donations d
WHERE d.msisdn = $1 AND d.committee = $2 AND d.status = 'awaiting_details'
ORDER BY d.id
FOR UPDATE OF d
"""

# The held donations of these (number, short code) pairs, for the SMS details dialog.
HELD_FOR_DIALOG = f"""
SELECT {_ROW}, (SELECT e.data::text FROM donation_events e
                WHERE e.donation_id = d.id AND e.kind = 'details_requested'
                ORDER BY e.id DESC LIMIT 1) AS requested
FROM donations d
JOIN unnest($1::text[], $2::text[]) AS k(msisdn, shortcode)
  ON d.msisdn = k.msisdn AND d.shortcode = k.shortcode
WHERE d.status = 'awaiting_details'
ORDER BY d.id
"""

INSERT_DETAIL_LINK = """
INSERT INTO donor_detail_links (token_sha256, donation_id, msisdn, committee, needed,
                                created_at, expires_at)
VALUES ($1, $2, $3, $4, $5::text[], $6, $7)
"""

GET_DETAIL_LINK = """
SELECT l.donation_id, l.msisdn, l.committee, l.needed, l.created_at, l.expires_at,
       d.status, d.program, d.shortcode, d.amount_cents, d.currency
FROM donor_detail_links l JOIN donations d ON d.id = l.donation_id
WHERE l.token_sha256 = $1
"""

LIST_REPORT = """
SELECT * FROM donation_report
WHERE committee = $1 AND confirmed_at >= $2 AND confirmed_at < $3
ORDER BY confirmed_at, id
"""


@dataclass(frozen=True, slots=True)
class NewDonation:
    id: int  # the requesting MO's id (the engine's donation_ref)
    msisdn: str
    shortcode: str
    program: str
    committee: str
    method: str  # carrier | card
    amount_cents: int
    currency: str
    requested_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewDonationEvent:
    donation_id: int
    kind: str
    occurred_at: datetime
    amount_cents: int | None = None
    currency: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    inbound_id: int | None = None  # the MO behind the event
    reply_index: int | None = None  # with inbound_id: the MO's reply that carried it
    outbound_id: int | None = None  # or the MT's id, when known
    external_ref: str | None = None  # Stripe / SMSC id: a repeat with the same ref is dropped


@dataclass(frozen=True, slots=True)
class InsertedEvent:
    id: int
    donation_id: int
    kind: str


@dataclass(frozen=True, slots=True)
class DonationRow:
    """One gift. Its `id` is the id of the GIVE text that asked for it (`inbound.id`):
    the engine's `donation_ref`, the donation's primary key and its Stripe idempotency key."""

    id: int  # the GIVE MO's inbound id, not a sequence of its own
    msisdn: str
    shortcode: str
    program: str
    committee: str
    method: str
    amount_cents: int
    currency: str
    requested_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None
    status: str
    last_event_at: datetime | None


@dataclass(frozen=True, slots=True)
class DonationEventRow:
    """One ledger row; has what `billing.ledger.derive_state` reads."""

    id: int
    donation_id: int
    kind: str
    occurred_at: datetime
    amount_cents: int | None
    currency: str | None
    data: Mapping[str, Any]
    inbound_id: int | None
    outbound_id: int | None
    external_ref: str | None
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class WindowTotals:
    month_by_phone_cents: int = 0
    cycle_by_phone_cents: int = 0
    cycle_cents: int = 0
    election_cents: int = 0


def sum_totals(parts: Iterable[WindowTotals]) -> WindowTotals:
    """One donor's totals kept under several numbers (a pseudonym after erasure)."""
    parts = list(parts)
    return WindowTotals(
        sum(p.month_by_phone_cents for p in parts), sum(p.cycle_by_phone_cents for p in parts),
        sum(p.cycle_cents for p in parts), sum(p.election_cents for p in parts))


@dataclass(frozen=True, slots=True)
class DonorDetails:
    msisdn: str
    committee: str
    source: str  # sms | web | card | staff
    received_at: datetime
    name: str | None = None
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    employer: str | None = None
    occupation: str | None = None
    donation_id: int | None = None

    def facts(self) -> dict[str, str | None]:
        """name / address / employer / occupation, as `billing.policy.missing_details` reads."""
        parts = (self.street, self.city, self.postal_code)
        address = ", ".join(p for p in (*parts[:2], self.region, parts[2]) if p) \
            if all(p and p.strip() for p in parts) else None
        return {"name": self.name, "address": address, "employer": self.employer,
                "occupation": self.occupation}


@dataclass(frozen=True, slots=True)
class DetailLink:
    """A donor-details web link, as its token's hash finds it, with its donation's state."""

    donation_id: int
    msisdn: str
    committee: str
    needed: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    status: str  # the donation's: the form works while it is awaiting_details
    program: str
    shortcode: str
    amount_cents: int
    currency: str


Window = tuple[datetime, datetime]


async def insert_donations(conn: asyncpg.Connection, rows: Sequence[NewDonation]) -> None:
    """Insert before their events; a row already there (same MO) is left as it is."""
    if rows:
        await conn.execute(INSERT_DONATIONS, *columns(rows,
            "id", "msisdn", "shortcode", "program", "committee", "method", "amount_cents",
            "currency", "requested_at", "expires_at"))


async def insert_events(conn: asyncpg.Connection, rows: Sequence[NewDonationEvent]
                        ) -> list[InsertedEvent]:
    """Append events (one donation's in the order given); return those recorded.

    Left out, silently: a repeat of a once-only event, anything but a refund or
    dispute after the donation's outcome, any other event the ledger's table
    does not allow from the donation's status (billing/ledger.py, migration
    100), and a refund past the gift. Raises asyncpg.CheckViolationError for a
    charge without a confirmation or a refund before a charge (bugs).
    """
    if not rows:
        return []
    records = await conn.fetch(
        INSERT_EVENTS,
        [r.donation_id for r in rows], [r.kind for r in rows],
        [r.amount_cents for r in rows], [r.currency for r in rows],
        [json.dumps(dict(r.data)) for r in rows], [r.inbound_id for r in rows],
        [r.reply_index for r in rows], [r.outbound_id for r in rows],
        [r.external_ref for r in rows], [r.occurred_at for r in rows],
    )
    inserted = sorted((InsertedEvent(r["id"], r["donation_id"], r["kind"]) for r in records),
                      key=lambda e: e.id)
    await webhook_events.emit_donation_events(
        conn, [e.id for e in inserted if e.kind in DONATION_EVENT])
    return inserted


async def get_donation(conn: asyncpg.Connection, donation_id: int) -> DonationRow | None:
    found = await list_donations(conn, [donation_id])
    return found[0] if found else None


async def list_donations(conn: asyncpg.Connection, ids: Sequence[int]) -> list[DonationRow]:
    return [DonationRow(**dict(r)) for r in await conn.fetch(LIST_DONATIONS, list(ids))]


async def list_events(conn: asyncpg.Connection, ids: Sequence[int]
                      ) -> dict[int, list[DonationEventRow]]:
    """Each donation's events, oldest first (absent ids map to nothing)."""
    events: dict[int, list[DonationEventRow]] = {}
    for r in await conn.fetch(LIST_EVENTS, list(ids)):
        row = DonationEventRow(**{**dict(r), "data": json.loads(r["data"])})
        events.setdefault(row.donation_id, []).append(row)
    return events


async def claim_to_charge(conn: asyncpg.Connection, *, limit: int) -> list[DonationRow]:
    """Confirmed donations not yet charged, locked until the caller's transaction ends."""
    _require_transaction(conn, "claim_to_charge")
    return [DonationRow(**dict(r)) for r in await conn.fetch(CLAIM_TO_CHARGE, limit)]


async def expire_due(conn: asyncpg.Connection, *, before: datetime, details_within_s: float,
                     limit: int) -> list[int]:
    """Record `expired` for requests unconfirmed (or details not given) by `before`.

    Pass `before = now - grace`: a YES decided at its MO's receipt time may still
    be in the pipeline. Returns the donations expired now.
    """
    return [r["donation_id"] for r in
            await conn.fetch(EXPIRE_DUE, before, details_within_s, limit)]


async def lock_donor(conn: asyncpg.Connection, msisdn: str, committee: str) -> None:
    """Serialize limit checks for one donor until the transaction ends.

    Two workers charging two gifts of one number must not both read totals that
    leave room for only one; take this lock, then read totals, then record.
    """
    _require_transaction(conn, "lock_donor")
    await conn.execute(LOCK_DONOR, msisdn, committee)


async def donor_totals(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]], *, month: Window,
    cycle: Window, election: Window,
) -> dict[tuple[str, str], WindowTotals]:
    """(msisdn, committee) -> net cents per window, net of refunds; zeros when none."""
    totals = {key: WindowTotals() for key in keys}
    if not keys:
        return totals
    for r in await conn.fetch(DONOR_TOTALS, [k[0] for k in keys], [k[1] for k in keys],
                              *month, *cycle, *election):
        totals[(r["msisdn"], r["committee"])] = WindowTotals(
            r["month_by_phone_cents"], r["cycle_by_phone_cents"], r["cycle_cents"],
            r["election_cents"])
    return totals


async def insert_donor_details(conn: asyncpg.Connection, rows: Sequence[DonorDetails]) -> None:
    if rows:
        await conn.execute(INSERT_DETAILS, *columns(rows,
            "msisdn", "committee", "name", "street", "city", "region", "postal_code", "country",
            "employer", "occupation", "source", "donation_id", "received_at"))


async def list_donor_details(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
                             ) -> dict[tuple[str, str], DonorDetails]:
    """The newest details of each (msisdn, committee) that has any."""
    if not keys:
        return {}
    records = await conn.fetch(LIST_DETAILS, [k[0] for k in keys], [k[1] for k in keys])
    return {(r["msisdn"], r["committee"]): DonorDetails(**dict(r)) for r in records}


async def lock_held_for_details(conn: asyncpg.Connection, msisdn: str, committee: str
                                ) -> list[tuple[DonationRow, frozenset[str]]]:
    """The donor's donations awaiting details, locked, each with the facts its hold needs."""
    _require_transaction(conn, "lock_held_for_details")
    held = []
    for r in await conn.fetch(LOCK_HELD, msisdn, committee):
        fields = dict(r)
        requested = json.loads(fields.pop("requested") or "{}")
        held.append((DonationRow(**fields), frozenset(requested.get("needed") or ())))
    return held


async def list_report(conn: asyncpg.Connection, committee: str, *, confirmed_from: datetime,
                      confirmed_to: datetime) -> list[asyncpg.Record]:
    """The `donation_report` view for donations received in [from, to)."""
    return list(await conn.fetch(LIST_REPORT, committee, confirmed_from, confirmed_to))


def _require_transaction(conn: asyncpg.Connection, what: str) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError(f"{what} locks rows until COMMIT: call it inside "
                           "`async with conn.transaction():`")


async def held_for_details(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
                           ) -> list[tuple[DonationRow, frozenset[str]]]:
    """Donations of these (msisdn, shortcode) held for details, each with what its hold
    needs; oldest first. Not locked: the SMS dialog only reads them."""
    if not keys:
        return []
    held = []
    for r in await conn.fetch(HELD_FOR_DIALOG, [k[0] for k in keys], [k[1] for k in keys]):
        fields = dict(r)
        requested = json.loads(fields.pop("requested") or "{}")
        held.append((DonationRow(**fields), frozenset(requested.get("needed") or ())))
    return held


async def insert_detail_link(conn: asyncpg.Connection, *, token_sha256: bytes,
                             donation_id: int, msisdn: str, committee: str,
                             needed: Sequence[str], created_at: datetime,
                             expires_at: datetime) -> None:
    await conn.execute(INSERT_DETAIL_LINK, token_sha256, donation_id, msisdn, committee,
                       list(needed), created_at, expires_at)


async def get_detail_link(conn: asyncpg.Connection, token_sha256: bytes) -> DetailLink | None:
    row = await conn.fetchrow(GET_DETAIL_LINK, token_sha256)
    if row is None:
        return None
    return DetailLink(**{**dict(row), "needed": tuple(row["needed"])})


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

DELETE_DETAIL_LINKS_OF = "DELETE FROM donor_detail_links WHERE msisdn = $1"
PSEUDONYMIZE_DONATIONS = "UPDATE donations SET msisdn = $2 WHERE msisdn = $1"
PSEUDONYMIZE_DETAILS = "UPDATE donor_details SET msisdn = $2 WHERE msisdn = $1"


async def delete_detail_links_of(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(DELETE_DETAIL_LINKS_OF, msisdn))


async def pseudonymize_donations(conn: asyncpg.Connection, msisdn: str, pseudonym: str) -> int:
    return affected(await conn.execute(PSEUDONYMIZE_DONATIONS, msisdn, pseudonym))


async def pseudonymize_details(conn: asyncpg.Connection, msisdn: str, pseudonym: str) -> int:
    return affected(await conn.execute(PSEUDONYMIZE_DETAILS, msisdn, pseudonym))
