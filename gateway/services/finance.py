"""Finance for staff: the donation report over a checked range, and settlement uploads.

The figures are gateway/finance's (the same functions as `gateway report` and
`gateway reconcile`), so a figure on the page, in the API and in the terminal
is the same figure. Why an upload is audited in the import's transaction
(`settlement.imported`), and a download by `audit_download`
(`export.downloaded`): a file changing what finance reconciles against, and
a report leaving the building, are both things someone will ask about later.
The API (web/api/finance.py) and the donations page call these.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final, Literal

import asyncpg

from gateway.config import Settings
from gateway.finance import reports
from gateway.finance.formats import MappingError, get_mapping, load_mappings
from gateway.finance.importer import ImportResult, import_settlement
from gateway.plain_words import N_, said
from gateway.services import audit
from gateway.services.actor import Identity
from gateway.services.errors import invalid

GroupBy = Literal["day", "keyword", "program", "carrier", "method"]
MAX_REPORT_DAYS: Final = 3 * 366  # a report reads its ledger rows into memory


async def report(pool: asyncpg.Pool, settings: Settings, *, date_from: date, date_to: date,
                 group_by: str = "day", committee: str | None = None) -> reports.Report:
    """The donation report in the finance zone; a bad range is a 400 naming the field."""
    if date_to < date_from:
        raise invalid(said(N_("the report ends (%(date_to)s) before it starts (%(date_from)s)"),
                           date_to=date_to, date_from=date_from),
                      field="date_to")
    if (date_to - date_from).days > MAX_REPORT_DAYS:
        raise invalid(said(N_("at most %(max_report_days)s days per report"),
                           max_report_days=MAX_REPORT_DAYS), field="date_to")
    return await reports.donation_report(
        pool, date_from=date_from, date_to=date_to, group_by=group_by,
        timezone=settings.organization_timezone, committee=committee)


async def audit_download(pool: asyncpg.Pool, actor: Identity, client: str, what: str,
                         **detail: Any) -> None:
    async with pool.acquire() as conn:
        await audit.record(conn, actor, audit.EXPORT_DOWNLOADED, what, client=client,
                           **detail)


async def import_upload(pool: asyncpg.Pool, settings: Settings, actor: Identity,
                        client: str, *, name: str, data: bytes,
                        mapping: str | None) -> ImportResult:
    """Import one settlement file and audit who did it, in one transaction.

    A mapping that does not exist is a 400 naming `mapping`; a parser refusing
    the whole file raises ValueError.
    """
    try:
        column_mapping = get_mapping(load_mappings(settings.finance_mappings),
                                     mapping or settings.finance_default_mapping)
    except MappingError as err:
        raise invalid(str(err), field="mapping") from None
    async with pool.acquire() as conn, conn.transaction():
        result = await import_settlement(conn, name, data, column_mapping)
        await audit.record(conn, actor, audit.SETTLEMENT_IMPORTED,
                           f"settlement_import:{result.import_id}", client=client,
                           name=name, mapping=column_mapping.name, new=result.new,
                           refused=result.bad, already_imported=result.already_imported)
    return result
