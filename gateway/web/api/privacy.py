"""Data-protection rights over the API: a contact's export, erasure, and the retention list.

The work is `gateway.privacy.rights` (the same as `gateway privacy ...` on the
command line); this module adds what a web caller needs:

* the number in the path must be E.164 (`%2B` for the +): a typo must not
  export or erase a neighbour's number that a default region would guess;
* erasure cannot be undone, so the body must retype the number
  (`{"confirm": "+12125550123"}`), like the CLI's `--yes`, and it refuses
  (503) before touching anything when GATEWAY_PRIVACY_HASH_SECRET is unset:
  without the key the opt-out could not be kept;
* an export is a JSON download, audited twice in one transaction: the
  rights module's `privacy.exported` (what was copied) and the web's
  `export.downloaded` (who downloaded it, from where).

All three are admin only: an export holds donor details (name, address,
employer) that organizers never see.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from aiohttp import web
from pydantic import Field

from gateway.phone import InvalidNumber, to_e164
from gateway.privacy import rights
from gateway.privacy.pseudonym import PrivacyKeyMissing
from gateway.web import audit
from gateway.web.auth import Principal
from gateway.web.body import Strict
from gateway.web.context import WebContext
from gateway.web.errors import ApiError, bad_request
from gateway.web.registry import Call, RouteTable

routes = RouteTable("privacy")

E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")


class EraseBody(Strict):
    confirm: str = Field(max_length=32, description="the same number again, to confirm")


class RetentionQuery(Strict):
    limit: int = Field(1000, ge=1, le=10_000)


def e164_param(raw: str, *, field: str = "msisdn") -> str:
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
        raise bad_request(f"{field} {text!r} {problem}: give it as +<country code><number>, "
                          "e.g. +12125550123 (in a URL, %2B12125550123)", field=field)
    return text


def key_configured(context: WebContext) -> bool:
    key = context.settings.privacy_hash_secret
    return key is not None and bool(key.get_secret_value())


def _key_missing() -> ApiError:
    return ApiError(503, "privacy_key_missing",
                    "erasure is not configured: set GATEWAY_PRIVACY_HASH_SECRET (the key "
                    "that keeps an erased number's opt-out) and restart; nothing was erased")


async def export_document(context: WebContext, principal: Principal, client: str,
                          msisdn: str) -> dict[str, Any]:
    """Everything held about `msisdn`; both audit rows commit with the copy or not at all."""
    async with context.pool.acquire() as conn, conn.transaction():
        document = await rights.export(conn, msisdn, by=principal.email, now=context.clock(),
                                       settings=context.settings)
        await audit.record(conn, principal, audit.EXPORT_DOWNLOADED, f"contact:{msisdn}",
                           client=client, export=rights.EXPORT_FORMAT)
    return document


async def erase_contact(context: WebContext, principal: Principal, msisdn: str,
                        confirm: str) -> rights.ErasureReport:
    """Erase after the retyped number matches (400 `confirm`) and the key is set (503)."""
    try:
        retyped = to_e164(confirm.strip())
    except InvalidNumber:
        retyped = None
    if retyped != msisdn:
        raise bad_request(f"confirm: retype the number being erased ({msisdn}) to confirm; "
                          "erasure cannot be undone", field="confirm")
    if not key_configured(context):
        raise _key_missing()
    try:
        async with context.pool.acquire() as conn:
            return await rights.erase(conn, msisdn, by=principal.email,
                                      settings=context.settings)
    except PrivacyKeyMissing:
        raise _key_missing() from None


@routes.get("/api/v1/contacts/{msisdn}/export", name="privacy.export",
            summary="Everything held about a number, as a JSON download (audited)")
async def export(call: Call) -> web.StreamResponse:
    msisdn = e164_param(call.path_str("msisdn"))
    document = await export_document(call.context, call.user, call.client, msisdn)
    return web.Response(
        text=json.dumps(document, indent=2, ensure_ascii=False, default=str),
        content_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="privacy-export-{msisdn[1:]}.json"',
            "Cache-Control": "no-store"})


@routes.post("/api/v1/contacts/{msisdn}/erase", name="privacy.erase", body=EraseBody,
             summary="Erase a number's personal data (keeps its opt-out and the money)",
             description="The body must retype the number: {\"confirm\": \"+12125550123\"}. "
                         "503 when GATEWAY_PRIVACY_HASH_SECRET is unset. Running it again "
                         "finds nothing more to do.")
async def erase(call: Call) -> dict[str, Any]:
    msisdn = e164_param(call.path_str("msisdn"))
    report = await erase_contact(call.context, call.user, msisdn,
                                 call.body_as(EraseBody).confirm)
    return {"erased": True, "pseudonym": report.pseudonym, "rows": report.rows,
            "kept_opt_out_for": list(report.kept_opt_out_for)}


@routes.get("/api/v1/privacy/retention", name="privacy.retention", query=RetentionQuery,
            summary="Contacts idle past the retention period (a dry run: nothing erased)",
            description="Erase them with `gateway privacy retention --apply`.")
async def retention(call: Call) -> dict[str, Any]:
    context = call.context
    limit = call.query_as(RetentionQuery).limit
    async with context.pool.acquire() as conn:
        idle = await rights.idle_contacts(conn, settings=context.settings,
                                          now=context.clock(), limit=limit)
        await call.audit(conn, audit.CONTACT_VIEWED, None, view="retention",
                         results=len(idle))
    return {"retention_days": context.settings.privacy_retention_days, "dry_run": True,
            "count": len(idle),
            "contacts": [{"msisdn": m, "last_activity": last} for m, last in idle]}
