"""Contact import, the steps a person takes: upload, map the columns, dry run, import.

The API (web/api/imports.py) and the page (web/pages/imports.py) both call
these; the work itself runs in the background (services/imports/runner.py).
Each step is audit-logged in its own transaction with what it changed.

- `upload` reads the whole file once (its header, its row count, or the
  first problem, naming row and column), keeps it, and guesses the mapping.
- `queue` checks a mapping against the file's header and queues a phase: the
  dry run, or the import (the page asks for a dry run first; the API may skip
  it). A phase queued again starts over: its earlier rows are forgotten.
  With the mapping come the file's own tags, put on every accepted row.
- `summary` is the counts (and the tags each phase puts on: how many numbers
  of the file get each) and the rows to look at, the same for both phases.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.plain_words import N_, said
from gateway.plain_words import reason as said_by
from gateway.services import audit
from gateway.services.actor import Identity
from gateway.services.errors import ServiceError, conflict, invalid, not_found
from gateway.services.imports import mapping as mappings
from gateway.services.imports import reading, rows
from gateway.services.imports.context import programs_of
from gateway.store import contact_imports
from gateway.store.contact_imports import DRY_RUN, IMPORT
from gateway.store.tags import BadTag

PHASES: Final = (DRY_RUN, IMPORT)
COUNTED: Final = ("new", "updated", "skipped", "subscribed", "already_subscribed",
                  "contact_only", "opted_out", "kept_opted_out")


def problem(err: reading.FileProblem, *, field: str = "file") -> ServiceError:
    """A file or mapping problem as a 400 whose message names the row and the column."""
    return ServiceError(400, "import_file", str(err), field=field,
                        extra={"row": err.row, "column": err.column})


async def upload(conn: asyncpg.Connection, principal: Identity, client: str | None, *,
                 filename: str, content: bytes, program: str, country: str,
                 rules: Any, max_bytes: int, now: datetime) -> dict[str, Any]:
    """Keep a readable file and guess its mapping; the new import, not yet queued."""
    if not content:
        raise invalid(N_("the file is empty"), field="file")
    if len(content) > max_bytes:
        raise invalid(said(N_("the file is larger than %(max_bytes)s bytes "
                              "(GATEWAY_IMPORT_MAX_BYTES)"),
                           max_bytes=max_bytes), field="file", code="too_large")
    if not re.fullmatch(r"[A-Za-z]{2}", country):
        raise invalid(N_("a country is two letters (US, FR...)"), field="country")
    if program.lower() not in programs_of(rules):
        raise invalid(said(N_("there is no program %(program)r in the keywords file"),
                           program=program), field="program")
    try:
        sheet = reading.inspect(filename, content)
    except reading.FileProblem as err:
        raise problem(err) from None
    guessed = mappings.guess(sheet.headers)
    async with conn.transaction():
        import_id = await contact_imports.create(
            conn, created_by=principal.email, filename=filename[:200],
            file_format=sheet.file_format, content=content, headers=sheet.headers,
            total_rows=sheet.total_rows, program=programs_of(rules)[program.lower()].id,
            country=country.upper(), mapping=None, now=now)
        await audit.record(conn, principal, audit.IMPORT_UPLOADED, f"import:{import_id}",
                           client=client, filename=filename[:200], rows=sheet.total_rows,
                           program=program)
    return {"id": import_id, "headers": list(sheet.headers), "total_rows": sheet.total_rows,
            "guess": guessed}


def file_tags(text: str) -> list[str]:
    """The tags typed for the whole file (`;`, `,` or `|` between them), or a 400 naming the
    one that cannot be a tag."""
    try:
        return list(rows.cell_tags(text))
    except BadTag as err:
        raise invalid(said_by(err), field="tags") from None


async def queue(conn: asyncpg.Connection, principal: Identity, client: str | None,
                import_id: int, *, phase: str, mapping: Mapping[str, str] | None,
                tags: Sequence[str] | None = None) -> None:
    """Queue the dry run or the import; the mapping must fit the file's header.

    `tags`: put on every contact of the file (None: as chosen before); each checked."""
    if tags is not None:
        tags = file_tags(",".join(tags))
    job = await contact_imports.get(conn, import_id)
    if job is None:
        raise not_found(said(N_("import %(import_id)s"), import_id=import_id))
    chosen = mapping if mapping is not None else job["mapping"]
    if chosen is None:
        raise invalid(N_("choose the columns first"), field="mapping")
    try:
        checked = mappings.checked(chosen, job["headers"])
    except reading.FileProblem as err:
        raise problem(err, field="mapping") from None
    async with conn.transaction():
        if not await contact_imports.queue(conn, import_id, phase, checked, tags):
            raise conflict(said(N_("import %(import_id)s is %(status)s (%(phase)s): it cannot be "
                                   "queued again now"),
                                import_id=import_id, status=job['status'], phase=job['phase']))
        await audit.record(conn, principal, audit.IMPORT_QUEUED, f"import:{import_id}",
                           client=client, phase=phase, mapping=checked,
                           tags=tags if tags is not None else job["tags"])


def tally(counts: list[tuple[str, str | None, str | None, int]]) -> dict[str, Any]:
    """Counts by outcome and effect, and the reasons of the skipped and the contacts only."""
    totals: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    only: Counter[str] = Counter()
    for outcome, effect, reason, n in counts:
        totals["rows"] += n
        totals[outcome] += n
        if effect is not None:
            totals[effect] += n
        if outcome == "skipped":
            skipped[reason or ""] += n
        elif effect == "contact_only":
            only[reason or ""] += n
    return {**{key: totals[key] for key in ("rows", *COUNTED)},
            "skipped_by_reason": dict(sorted(skipped.items())),
            "contact_only_by_reason": dict(sorted(only.items()))}


async def summary(conn: asyncpg.Connection, import_id: int, *, report_rows: int,
                  after_row: int = 0) -> dict[str, Any]:
    """The import, each phase's counts, and the rows to look at of the latest phase."""
    job = await contact_imports.get(conn, import_id)
    if job is None:
        raise not_found(said(N_("import %(import_id)s"), import_id=import_id))
    phases = {p: {**tally(await contact_imports.counts(conn, import_id, p)),
                  "tags": await contact_imports.tag_counts(conn, import_id, p)}
              for p in PHASES}
    reported = await contact_imports.report(conn, import_id, job["phase"],
                                            after_row=after_row, limit=report_rows)
    return {"import": job, "dry_run": phases[DRY_RUN], "result": phases[IMPORT],
            "rows": reported}


async def recent(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    return await contact_imports.recent(conn, limit)
