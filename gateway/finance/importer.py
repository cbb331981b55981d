"""Importing settlement lines: one transaction per import, idempotent twice over.

- By file: the SHA-256 of the bytes (of the listing, for the Stripe API) is
  unique per source; the same file again finds its import and adds nothing.
- By row: each line's `row_key` is unique per source, so a file covering an
  overlapping period (or a CSV export after an API import) adds only rows
  not seen before.

Bad rows are reported (file, line, column) and kept in the import's row;
the good rows of the same file go in. Everything happens in one
transaction: a crash or error halfway leaves no import and no line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.finance.conn import Db, connection
from gateway.finance.formats import ColumnMapping
from gateway.finance.lines import Problem, SettlementLine
from gateway.finance.parse import parse_settlement
from gateway.store import finance as store


@dataclass(frozen=True, slots=True)
class ImportResult:
    import_id: int
    source: str
    name: str
    sha256: str
    rows: int  # data rows in the file
    new: int  # lines added by this import
    known: int  # good rows already imported (same row identity)
    problems: list[Problem] = field(default_factory=list)
    already_imported: bool = False  # the same file before: nothing changed

    @property
    def bad(self) -> int:
        """Rows refused; a problem on line 1 (header, encoding) refuses the whole file."""
        return len({p.line for p in self.problems if p.line > 1})

    def summary(self) -> str:
        if self.already_imported:
            return (f"{self.name}: already imported (import {self.import_id}); "
                    "nothing changed")
        rows = f"{self.rows} row{'s' if self.rows != 1 else ''}"
        return (f"{self.name}: {rows}, {self.new} new, {self.known} already known, "
                f"{self.bad} refused (import {self.import_id})")


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def import_settlement(db: Db, name: str, data: bytes, mapping: ColumnMapping
                            ) -> ImportResult:
    """Import one CSV file (carrier, aggregator or a Stripe export) laid out as `mapping`."""
    parsed = parse_settlement(name, data, mapping)
    return await import_lines(db, source=mapping.source, name=name, sha256=file_digest(data),
                              mapping=mapping.name, rows=parsed.rows, lines=parsed.lines,
                              problems=parsed.problems)


async def import_lines(db: Db, *, source: str, name: str, sha256: str, mapping: str,
                       rows: int, lines: Sequence[SettlementLine],
                       problems: Sequence[Problem] = ()) -> ImportResult:
    async with connection(db) as conn, conn.transaction():
        await store.lock_imports(conn)
        found = await store.get_import(conn, source, sha256)
        if found is not None:
            return ImportResult(found.id, source, name, sha256, rows, 0, len(lines),
                                list(problems), already_imported=True)
        bad_rows = len({p.line for p in problems if p.line > 1})
        import_id = await store.insert_import(
            conn, source=source, name=name, sha256=sha256, mapping=mapping, rows_total=rows,
            rows_bad=bad_rows, problems=[p.as_dict() for p in problems])
        new = await store.insert_lines(conn, import_id, lines)
    return ImportResult(import_id, source, name, sha256, rows, new, len(lines) - new,
                        list(problems))
