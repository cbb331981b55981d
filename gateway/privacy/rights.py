"""A supporter's rights over their data: a copy of all of it, and erasure; and retention.

Why every call writes the audit log in the same transaction as what it does:
profile answers and program membership can reveal a political opinion, so
who read or erased whose data must be provable later (CNIL guidance), and a
copy handed out without its audit row must not be possible.

Erasure keeps what the law needs (see migration 012): an opt-out survives as
a keyed hash so the number stays suppressed, and the financial records stay,
under a pseudonym, so report totals do not move.

Both rights cover the whole person: a number or e-mail address verified to be
one citizen with others (store/persons.py) is exported and erased together
with them, so asking by the mobile number also covers the e-mail the same
person wrote from. An address is given as an E.164 number or an e-mail address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from gateway.config import Settings
from gateway.email_address import EmailAddressError, normalize_email
from gateway.logs import get_logger
from gateway.phone import InvalidNumber, to_e164
from gateway.privacy.pseudonym import email_pseudonym, number_hash, pseudonym_of
from gateway.store import audit as audit_store
from gateway.store import persons as persons_store
from gateway.store import privacy as store

log = get_logger("gateway.privacy")

EXPORT_FORMAT = "shortcode-gateway/privacy-export/1"
ACTION_EXPORTED = "privacy.exported"
ACTION_ERASED = "privacy.erased"


class PrivacyError(ValueError):
    """A request that cannot be carried out as asked (a bad number or address)."""


@dataclass(frozen=True, slots=True)
class ErasureReport:
    pseudonym: str  # of the address asked for
    rows: dict[str, int]  # per table, summed over every address of the person
    kept_opt_out_for: tuple[str, ...]
    linked_pseudonyms: tuple[str, ...] = ()  # the person's other addresses, erased too


def normalize(number: str) -> str:
    """The E.164 form of a number, or the compared form of an e-mail address (with '@');
    else a PrivacyError naming what was given."""
    if "@" in number:
        try:
            return normalize_email(number)
        except EmailAddressError as err:
            raise PrivacyError(str(err)) from None
    try:
        return to_e164(number)
    except InvalidNumber as err:
        raise PrivacyError(f"{err} (expected E.164, e.g. +12125550123)") from None


def is_email(address: str) -> bool:
    """An e-mail address rather than a number (numbers are E.164, never with an @)."""
    return "@" in address


async def export(
    conn: asyncpg.Connection, number: str, *, by: str, now: datetime, settings: Settings,
) -> dict[str, Any]:
    """Everything held about `number` (or an e-mail address) and every address of its
    person, as one JSON-ready document. Each row says which address it is about
    (`msisdn` in the SMS sections, `address` in the e-mail ones)."""
    asked = normalize(number)
    async with conn.transaction():
        addresses = await persons_store.linked(conn, asked)
        sections: dict[str, list[dict[str, Any]]] = {
            name: [] for name in (*store.EXPORT_QUERIES, *store.EMAIL_EXPORT_QUERIES,
                                  *store.EMAIL_EXPORT_EXTRA)}
        for address in addresses:
            found = (await store.export_email(conn, address) if is_email(address)
                     else await store.export_number(conn, address))
            key = "address" if is_email(address) else "msisdn"
            for name, rows in found.items():
                sections[name].extend({key: address, **row} for row in rows)
        person = await _person_section(conn, asked)
        await audit_store.insert_entry(
            conn, actor_id=None, actor=by, action=ACTION_EXPORTED, target=f"contact:{asked}",
            detail={"rows": {name: len(rows) for name, rows in sections.items()},
                    "addresses": addresses})
    return {
        "format": EXPORT_FORMAT,
        "number": None if is_email(asked) else asked,
        "address": asked,
        "addresses": addresses,
        "exported_at": now.astimezone(UTC).isoformat(),
        "shortcode": settings.shortcode,
        "retention_days": settings.privacy_retention_days,
        "person": _value(person),
        **{name: [_jsonable(row) for row in rows] for name, rows in sections.items()},
    }


async def _person_section(conn: asyncpg.Connection, address: str) -> dict[str, Any] | None:
    """The person the address belongs to: its addresses and every link, with how each
    was verified (None for an address that is no person's)."""
    person_id = await persons_store.person_of(conn, address)
    if person_id is None:
        return None
    members = await persons_store.addresses_of(conn, person_id)
    links = await persons_store.links_of(conn, [m.address for m in members])
    return {
        "addresses": [{"address": m.address, "channel": m.channel, "added_at": m.added_at}
                      for m in members],
        "links": [{"addresses": [k.address_a, k.address_b], "method": k.method,
                   "evidence": dict(k.evidence), "linked_by": k.linked_by, "reason": k.reason,
                   "linked_at": k.linked_at, "unlinked_at": k.unlinked_at,
                   "unlinked_by": k.unlinked_by, "unlink_reason": k.unlink_reason}
                  for k in links],
    }


async def erase(
    conn: asyncpg.Connection, number: str, *, by: str, settings: Settings,
    reason: str = "request",
) -> ErasureReport:
    """Erase one number or e-mail address and every other address of its person;
    running it again finds nothing more to do. One `privacy.erased` entry per address."""
    asked = normalize(number)
    key = settings.privacy_hash_secret
    secret = key.get_secret_value().encode() if key else b""
    number_hash(secret, asked)  # no key: PrivacyKeyMissing before anything is read
    async with conn.transaction():
        targets = [_target(secret, address, reason=reason, by=by)
                   for address in await persons_store.linked(conn, asked)]
        numbers = [t for t in targets if not is_email(t.address)]
        emails = [t for t in targets if is_email(t.address)]
        erasure = await store.erase_person(conn, numbers, emails)
        for target in targets:
            done = erasure.by_address[target.address]
            # the entry names pseudonyms: the log must not undo the erasure it records
            await audit_store.insert_entry(
                conn, actor_id=None, actor=by, action=ACTION_ERASED,
                target=f"contact:{target.pseudonym}",
                detail={"reason": reason, "rows": dict(done.rows),
                        "kept_opt_out_for": list(done.opted_out_shortcodes),
                        "channel": "email" if is_email(target.address) else "sms",
                        "with": [t.pseudonym for t in targets if t is not target]})
    rows: dict[str, int] = {}
    for done in erasure.by_address.values():
        for table, count in done.rows.items():
            rows[table] = rows.get(table, 0) + count
    rows["persons"] = erasure.person_rows
    kept = tuple(dict.fromkeys(code for done in erasure.by_address.values()
                               for code in done.opted_out_shortcodes))
    asked_target = next(t for t in targets if t.address == asked)
    # no address at info: the numbers are masked by the log processor, e-mail is not named
    log.info("contact_erased", msisdn=None if is_email(asked) else asked, reason=reason,
             addresses=len(targets), rows=sum(rows.values()))
    return ErasureReport(asked_target.pseudonym, rows, kept,
                         tuple(t.pseudonym for t in targets if t is not asked_target))


def _target(secret: bytes, address: str, *, reason: str, by: str) -> store.ErasedAddress:
    digest = number_hash(secret, address)
    pseudonym = email_pseudonym(digest) if is_email(address) else pseudonym_of(digest)
    return store.ErasedAddress(address, pseudonym, digest, reason, by)


async def idle_contacts(
    conn: asyncpg.Connection, *, settings: Settings, now: datetime, limit: int = 10_000,
) -> list[tuple[str, datetime]]:
    """Numbers and e-mail addresses with no activity for the retention period, oldest
    first: a citizen who only ever wrote (e-mail, the web form) ages out as one who texted
    does; `limit` bounds the two lists together."""
    before = now - timedelta(days=settings.privacy_retention_days)
    numbers = await store.inactive_numbers(conn, before, limit=limit)
    addresses = await store.inactive_addresses(conn, before, limit=limit)
    return sorted(numbers + addresses, key=lambda idle: (idle[1], idle[0]))[:limit]


async def apply_retention(
    conn: asyncpg.Connection, *, settings: Settings, now: datetime, by: str = "retention",
    limit: int = 10_000,
) -> list[ErasureReport]:
    """Erase every idle contact, one transaction each (a failure stops nothing already done)."""
    reports = []
    for address, _ in await idle_contacts(conn, settings=settings, now=now, limit=limit):
        reports.append(await erase(conn, address, by=by, settings=settings, reason="retention"))
    return reports


async def withheld_calls_due(conn: asyncpg.Connection, *, settings: Settings, now: datetime,
                             limit: int = 10_000) -> list[str]:
    """Calls from a withheld number older than the retention period (their closed questions
    and recordings go with them): no number names them, so they are not on `idle_contacts`."""
    before = now - timedelta(days=settings.privacy_retention_days)
    return await store.withheld_calls(conn, before, limit=limit)


async def erase_withheld_calls(conn: asyncpg.Connection, *, settings: Settings, now: datetime,
                               limit: int = 10_000) -> dict[str, int]:
    """Erase `withheld_calls_due` in one transaction; rows deleted per table."""
    due = await withheld_calls_due(conn, settings=settings, now=now, limit=limit)
    if not due:
        return {}
    rows = await store.erase_withheld_calls(conn, due)
    log.info("withheld_calls_erased", calls=rows.get("calls", 0),
             recordings=rows.get("voice_recordings", 0), questions=rows.get("questions", 0))
    return rows


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
