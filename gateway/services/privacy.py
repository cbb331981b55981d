"""Data-protection rights for staff: a contact's export, erasure, and the retention list.

The work is gateway/privacy/rights.py (the same as `gateway privacy ...` on
the command line); this module adds what a staff member's request needs,
for the API (web/api/privacy.py) and the contact page alike:

* the number must be E.164 (`e164`): a typo must not export or erase a
  neighbour's number that a default region would guess;
* erasure cannot be undone, so the number must be typed again (`confirm`),
  like the CLI's `--yes`, and it refuses (503) before touching anything when
  GATEWAY_PRIVACY_HASH_SECRET is unset: without the key the opt-out could not
  be kept;
* an export is audited twice in one transaction: the rights module's
  `privacy.exported` (what was copied) and `export.downloaded` (who took it,
  from where); the retention list is audited as a view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.config import Settings
from gateway.phone import InvalidNumber, to_e164
from gateway.plain_words import N_, said
from gateway.privacy import rights
from gateway.privacy.pseudonym import PrivacyKeyMissing
from gateway.services import audit
from gateway.services.actor import Identity
from gateway.services.errors import ServiceError, invalid, unavailable

E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")


def e164(raw: str, *, field: str = "msisdn") -> str:
    """The number as given if it is a valid E.164 number; else 400 naming `field`."""
    text = raw.strip()
    problem = None
    if not E164.match(text):
        problem = "is not in E.164 form"
    else:
        try:
            if to_e164(text) != text:
                problem = "is not in E.164 form"
        except InvalidNumber as err:
            problem = f"is not a valid number ({err})"
    if problem:
        raise invalid(said(N_("%(field)s %(text)r %(problem)s: give it as +<country code><number>, "
                              "e.g. +12125550123 (in a URL, %%2B12125550123)"),
                           field=field, text=text, problem=problem), field=field)
    return text


def key_configured(settings: Settings) -> bool:
    key = settings.privacy_hash_secret
    return key is not None and bool(key.get_secret_value())


def _key_missing() -> ServiceError:
    return unavailable("privacy_key_missing",
                       N_("erasure is not configured: set GATEWAY_PRIVACY_HASH_SECRET (the key "
                          "that keeps an erased number's opt-out) and restart; nothing was erased"))


async def export_document(pool: asyncpg.Pool, settings: Settings, actor: Identity,
                          client: str, msisdn: str, *, now: datetime) -> dict[str, Any]:
    """Everything held about `msisdn`; both audit rows commit with the copy or not at all."""
    async with pool.acquire() as conn, conn.transaction():
        document = await rights.export(conn, msisdn, by=actor.email, now=now,
                                       settings=settings)
        await audit.record(conn, actor, audit.EXPORT_DOWNLOADED, f"contact:{msisdn}",
                           client=client, export=rights.EXPORT_FORMAT)
    return document


async def erase_contact(pool: asyncpg.Pool, settings: Settings, actor: Identity, msisdn: str,
                        confirm: str) -> rights.ErasureReport:
    """Erase after the retyped number matches (400 `confirm`) and the key is set (503)."""
    try:
        retyped = to_e164(confirm.strip())
    except InvalidNumber:
        retyped = None
    if retyped != msisdn:
        raise invalid(said(N_("confirm: retype the number being erased (%(msisdn)s) to confirm; "
                              "erasure cannot be undone"), msisdn=msisdn), field="confirm")
    if not key_configured(settings):
        raise _key_missing()
    try:
        async with pool.acquire() as conn:
            return await rights.erase(conn, msisdn, by=actor.email, settings=settings)
    except PrivacyKeyMissing:
        raise _key_missing() from None


is_email = rights.is_email


@dataclass(frozen=True)
class RetentionList:
    """What retention would erase: idle numbers and addresses (oldest first), and the
    calls from withheld numbers that no address names."""

    idle: list[tuple[str, datetime]]
    withheld_calls: int


async def retention_list(pool: asyncpg.Pool, settings: Settings, actor: Identity, client: str,
                         *, now: datetime, limit: int) -> RetentionList:
    """Contacts idle past the retention period (a dry run), audited as a view of them."""
    async with pool.acquire() as conn:
        idle = await rights.idle_contacts(conn, settings=settings, now=now, limit=limit)
        withheld = await rights.withheld_calls_due(conn, settings=settings, now=now,
                                                   limit=limit)
        await audit.record(conn, actor, audit.CONTACT_VIEWED, None, client=client,
                           view="retention", results=len(idle))
    return RetentionList(idle, len(withheld))
