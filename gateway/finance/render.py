"""Rows out as CSV bytes, a JSON document or a terminal table; money shown from cents.

One place for it so the reports, the itemization and the reconciliation
summary print amounts the same way: `format_cents`, never a float.

Why every CSV cell goes through `csv_cell`: these files are opened in a
spreadsheet, and a cell a donor, a carrier or a file name controls (a name,
a street, an uploaded file's name, a reference) that starts with `=`, `+`,
`-` or `@` is run there as a formula ("formula injection"); a leading tab or
carriage return hides the same trick, and so do spaces before any of them.
Such a cell gets a single quote in front, the OWASP recommendation: the
spreadsheet then shows it as text. A number is left alone, as a number: an
int, or text that is a plain decimal (`-12.50`, what `format_cents` writes
for money taken back), so finance files keep their negative amounts as
numbers a spreadsheet adds up and a script reads without stripping a quote.
An E.164 number (`+33...`) is not a plain decimal and is quoted: a
spreadsheet would otherwise turn it into a formula or drop its `+`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

Row = Mapping[str, Any]

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r", "\n")
SKIPPED: Final = " \u00a0"  # spreadsheets skip these before a formula: " =1+1" is one
PLAIN_NUMBER: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_cell(value: Any) -> str | int | Decimal:
    """One cell as it is written: a number as is, text neutralized (see the module doc)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | Decimal):
        return value
    text = str(value)
    if text.lstrip(SKIPPED).startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def to_csv(rows: Sequence[Row], columns: Sequence[str]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in columns])
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


def to_json(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False, default=str) + "\n").encode()


def to_table(rows: Sequence[Row], columns: Sequence[str], *, right: Sequence[str] = ()) -> str:
    """A plain aligned table; `right` columns (amounts, counts) are right-aligned."""
    cells = [[str(c) for c in columns]] + [
        ["" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]

    def fmt(line: list[str]) -> str:
        return "  ".join(v.rjust(w) if c in right else v.ljust(w)
                         for v, w, c in zip(line, widths, columns, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(cells[0]), rule, *(fmt(line) for line in cells[1:])]) + "\n"
