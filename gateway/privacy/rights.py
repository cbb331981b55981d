"""A supporter's rights over their data: a copy of all of it, and erasure; and retention.

Why every call writes the audit log in the same transaction as what it does:
profile answers and program membership can reveal a political opinion, so
who read or erased whose data must be provable later (CNIL guidance), and a
copy handed out without its audit row must not be possible.

Erasure keeps what the law needs (see migration 012): an opt-out survives as
a keyed hash so the number stays suppressed, and the financial records stay,
under a pseudonym, so report totals do not move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.phone import InvalidNumber, to_e164
from gateway.privacy.pseudonym import number_hash, pseudonym_of
from gateway.store import audit as audit_store
from gateway.store import privacy as store

log = get_logger("gateway.privacy")

EXPORT_FORMAT = "shortcode-gateway/privacy-export/1"
ACTION_EXPORTED = "privacy.exported"
ACTION_ERASED = "privacy.erased"


class PrivacyError(ValueError):
    """A request that cannot be carried out as asked (a bad number)."""


@dataclass(frozen=True, slots=True)
class ErasureReport:
    pseudonym: str
    rows: dict[str, int]
    kept_opt_out_for: tuple[str, ...]


def normalize(number: str) -> str:
    """The E.164 form, or a PrivacyError naming what was given."""
    try:
        return to_e164(number)
    except InvalidNumber as err:
        raise PrivacyError(f"{err} (expected E.164, e.g. +12125550123)") from None


async def export(
    conn: asyncpg.Connection, number: str, *, by: str, now: datetime, settings: Settings,
) -> dict[str, Any]:
    """Everything held about `number`, as one JSON-ready document."""
    msisdn = normalize(number)
    async with conn.transaction():
        sections = await store.export_number(conn, msisdn)
        await audit_store.insert_entry(
            conn, actor_id=None, actor=by, action=ACTION_EXPORTED, target=f"contact:{msisdn}",
            detail={"rows": {name: len(rows) for name, rows in sections.items()}})
    return {
        "format": EXPORT_FORMAT,
        "number": msisdn,
        "exported_at": now.astimezone(UTC).isoformat(),
        "shortcode": settings.shortcode,
        "retention_days": settings.privacy_retention_days,
        **{name: [_jsonable(row) for row in rows] for name, rows in sections.items()},
    }


async def erase(
    conn: asyncpg.Connection, number: str, *, by: str, settings: Settings,
    reason: str = "request",
) -> ErasureReport:
    """Erase one number; running it again finds nothing more to do."""
    msisdn = normalize(number)
    key = settings.privacy_hash_secret
    digest = number_hash(key.get_secret_value().encode() if key else b"", msisdn)
    pseudonym = pseudonym_of(digest)
    async with conn.transaction():
        erasure = await store.erase_number(
            conn, msisdn, pseudonym=pseudonym, number_hash=digest, reason=reason, erased_by=by)
        # the entry names the pseudonym: the log must not undo the erasure it records
        await audit_store.insert_entry(
            conn, actor_id=None, actor=by, action=ACTION_ERASED, target=f"contact:{pseudonym}",
            detail={"reason": reason, "rows": dict(erasure.rows),
                    "kept_opt_out_for": list(erasure.opted_out_shortcodes)})
    log.info("contact_erased", msisdn=msisdn, reason=reason,
             rows=sum(erasure.rows.values()))
    return ErasureReport(pseudonym, dict(erasure.rows), erasure.opted_out_shortcodes)


async def idle_contacts(
    conn: asyncpg.Connection, *, settings: Settings, now: datetime, limit: int = 10_000,
) -> list[tuple[str, datetime]]:
    """Numbers with no activity for the retention period, oldest first."""
    before = now - timedelta(days=settings.privacy_retention_days)
    return await store.inactive_numbers(conn, before, limit=limit)


async def apply_retention(
    conn: asyncpg.Connection, *, settings: Settings, now: datetime, by: str = "retention",
    limit: int = 10_000,
) -> list[ErasureReport]:
    """Erase every idle contact, one transaction each (a failure stops nothing already done)."""
    reports = []
    for msisdn, _ in await idle_contacts(conn, settings=settings, now=now, limit=limit):
        reports.append(await erase(conn, msisdn, by=by, settings=settings, reason="retention"))
    return reports


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {key: _value(value) for key, value in row.items()}


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    return value
