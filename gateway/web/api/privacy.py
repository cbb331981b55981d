"""Data-protection rights over the API: a contact's export, erasure, and the retention list.

The checks (an E.164 number, the number retyped to erase, the hash key set)
and the audit rows are gateway/services/privacy.py, which the contact page
calls too; the work is gateway/privacy/rights.py, the same as
`gateway privacy ...` on the command line. Here: the routes, and the export
as a JSON download. Erasure's body retypes the number
(`{"confirm": "+12125550123"}`), as the CLI asks for `--yes`.

All three are admin only: an export holds donor details (name, address,
employer) that organizers never see.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import Field

from gateway.services import privacy as service
from gateway.web.body import Strict
from gateway.web.registry import Call, RouteTable

routes = RouteTable("privacy")


class EraseBody(Strict):
    confirm: str = Field(max_length=32, description="the same number again, to confirm")


class RetentionQuery(Strict):
    limit: int = Field(1000, ge=1, le=10_000)


@routes.get("/api/v1/contacts/{msisdn}/export", name="privacy.export",
            summary="Everything held about a number, as a JSON download (audited)")
async def export(call: Call) -> web.StreamResponse:
    msisdn = service.e164(call.path_str("msisdn"))
    context = call.context
    document = await service.export_document(call.pool, context.settings, call.user,
                                             call.client, msisdn, now=context.clock())
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
    msisdn = service.e164(call.path_str("msisdn"))
    report = await service.erase_contact(call.pool, call.context.settings, call.user, msisdn,
                                         call.body_as(EraseBody).confirm)
    return {"erased": True, "pseudonym": report.pseudonym, "rows": report.rows,
            "kept_opt_out_for": list(report.kept_opt_out_for)}


@routes.get("/api/v1/privacy/retention", name="privacy.retention", query=RetentionQuery,
            summary="Contacts idle past the retention period (a dry run: nothing erased)",
            description="Erase them with `gateway privacy retention --apply`.")
async def retention(call: Call) -> dict[str, Any]:
    context = call.context
    due = await service.retention_list(call.pool, context.settings, call.user, call.client,
                                       now=context.clock(),
                                       limit=call.query_as(RetentionQuery).limit)
    return {"retention_days": context.settings.privacy_retention_days, "dry_run": True,
            "count": len(due.idle), "withheld_calls": due.withheld_calls,
            "contacts": [_idle_entry(address, last) for address, last in due.idle]}


def _idle_entry(address: str, last: datetime) -> dict[str, Any]:
    """A number keeps its `msisdn` key (as before addresses were listed); an e-mail
    address has `email`; both say their channel."""
    if service.is_email(address):
        return {"channel": "email", "email": address, "last_activity": last}
    return {"channel": "sms", "msisdn": address, "last_activity": last}
