"""Contact exports: a segment, or a program's subscribers, to CSV with the fields chosen.

The rules, in one place for the page download and the API job:

* Who: the roles of `access.GIFTS` reach the export at all (access.py);
  gift totals are amounts, which organizers see on a contact page too; the
  donor's identity (name, employer, occupation) only for the roles that see
  it everywhere else (services/fences.py `sees_donor_identity`: admin and
  finance). Asking for a field one may not see is refused (403) naming it,
  never silently dropped: a file that quietly lacks a column is worse.
* What: the audience is the broadcasts' own (store/audience.py), so a
  segment's export holds exactly whom a broadcast to it would reach.
* How: rows stream from a server-side cursor into the writer given (an HTTP
  response, a file) in chunks, so memory stays flat whatever the size; every
  cell goes through finance/render.py `csv_cell` (formula-safe: a cell
  starting with = + - @ tab or CR gets a ' in front, the OWASP advice).
* Audit: a `contact_exports` row when it starts (who, what filter, which
  fields) and, when it ends, its row count there and one audit entry
  (`export.downloaded` for a page download, with the count).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.audience import Audience, format_audience
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.service import shortcode_of
from gateway.engine import Rules
from gateway.finance.render import csv_cell
from gateway.logs import get_logger
from gateway.plain_words import N_, said
from gateway.services import audit, segments
from gateway.services.actor import Actor
from gateway.services.errors import forbidden, invalid
from gateway.services.fences import sees_donor_identity
from gateway.store import exports as store

log = get_logger("gateway.exports")

CONTACT_FIELDS: Final = ("msisdn", "joined_at", "joined_by", "zip", "region", "country",
                         "timezone", "tags", "first_seen")
GIFT_FIELDS: Final = ("gift_count", "gift_total_cents")
DONOR_FIELDS: Final = ("donor_name", "employer", "occupation")
COLUMN_WORDS: Final = store.COLUMN_WORDS  # what each column holds, for the page
DEFAULT_FIELDS: Final = ("msisdn", "joined_at", "zip", "tags")
CHUNK_ROWS: Final = 500  # rows per write: few enough to stay small, enough to be cheap

Write = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Target:
    """Whom an export holds: a program's subscribers on its code, narrowed by a filter."""

    program: str
    shortcode: str
    audience: Audience | None
    segment_id: int | None = None
    segment_name: str | None = None

    @property
    def filter(self) -> str:
        return format_audience(self.audience)


def fields_for(actor: Actor, rules: Rules) -> tuple[str, ...]:
    """Every field this person may export, in the order a form offers them."""
    profile = tuple(f"{store.PROFILE_PREFIX}{f}" for f in sorted(rules.profile_fields))
    donor = DONOR_FIELDS if sees_donor_identity(actor) else ()
    return CONTACT_FIELDS + profile + GIFT_FIELDS + donor


def checked_fields(actor: Actor, rules: Rules, asked: Sequence[str]) -> tuple[str, ...]:
    """The fields asked, each once and in order; a refusal naming the first not allowed."""
    if not asked:
        raise invalid(N_("Choose at least one field to export."), field="fields")
    allowed = set(fields_for(actor, rules))
    chosen: list[str] = []
    for name in asked:
        if name in DONOR_FIELDS and name not in allowed:
            raise forbidden(said(N_("The field %(name)r is a donor's identity: only admins and "
                                    "finance staff may export it."), name=name))
        if name not in allowed:
            raise invalid(said(N_("Unknown field %(name)r. The fields are: %(fields)s."),
                               name=name, fields=', '.join(fields_for(actor, rules))),
                          field="fields")
        if name not in chosen:
            chosen.append(name)
    return tuple(chosen)


async def target_of(conn: asyncpg.Connection, *, rules: Rules, default_shortcode: str,
                    segment_id: int | None, program: str | None, where: str = "") -> Target:
    """A saved segment (as it stands now) or a program with an optional filter."""
    if segment_id is not None:
        found = await segments.resolve(conn, segment_id, rules=rules,
                                       default_shortcode=default_shortcode)
        return Target(found.segment.program, found.shortcode, found.audience,
                      found.segment.id, found.segment.name)
    if not program:
        raise invalid(N_("Choose a saved segment or a program."), field="program")
    audience = segments.checked_definition(rules, program, where)
    try:
        shortcode = shortcode_of(rules, program, None, default_shortcode)
    except ComposeError as err:
        raise invalid(err.message, field="program") from None
    return Target(program, shortcode, audience)


def csv_chunk(rows: Sequence[Sequence[object]]) -> bytes:
    """Rows as CSV bytes, every cell through `csv_cell` (formula-safe)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return out.getvalue().encode()


async def begin(conn: asyncpg.Connection, actor: Actor, *, via: str, target: Target,
                fields: Sequence[str], owner: str | None = None) -> int:
    """The export's row (who, what, which fields; a job's instance), before the first byte
    goes out."""
    return await store.insert(conn, requested_by=actor.email, via=via, program=target.program,
                              segment_id=target.segment_id, filter=target.filter, fields=fields,
                              owner=owner)


async def write_csv(conn: asyncpg.Connection, target: Target, fields: Sequence[str],
                    write: Write, *, now: datetime) -> int:
    """Header and rows into `write`, chunk by chunk; the number of rows written."""
    await write(csv_chunk([fields]))
    query, params = store.rows_query(shortcode=target.shortcode, program=target.program,
                                     audience=target.audience, fields=fields, now=now)
    count = 0
    chunk: list[tuple[object, ...]] = []
    async for row in store.stream_rows(conn, query, params):
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            await write(csv_chunk(chunk))
            count += len(chunk)
            chunk = []
    if chunk:
        await write(csv_chunk(chunk))
        count += len(chunk)
    return count


async def finish(conn: asyncpg.Connection, actor: Actor, client: str, export_id: int, *,
                 target: Target, fields: Sequence[str], rows: int, complete: bool,
                 action: str = audit.EXPORT_DOWNLOADED, error: str | None = None) -> None:
    """Its row count and state, and the audit entry (who, what filter, how many rows)."""
    status = "done" if complete else "failed"
    async with conn.transaction():
        await store.finish(conn, export_id, status=status, rows=rows, error=error)
        await audit.record(conn, actor, action, f"export:{export_id}", client=client,
                           program=target.program, segment_id=target.segment_id,
                           segment=target.segment_name, filter=target.filter,
                           fields=list(fields), rows=rows, complete=complete)
    log.info("contact_export_finished", export_id=export_id, rows=rows, status=status)
