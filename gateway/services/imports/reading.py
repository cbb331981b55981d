"""An uploaded contact file as rows of text: CSV (any common delimiter) or XLSX.

Why these libraries: the standard library's `csv` (with `csv.Sniffer` for the
header's delimiter: a French spreadsheet saves with `;`, a CRM export with `,` or a
tab) and `openpyxl` in read-only mode, which streams a sheet's rows without
loading the whole workbook. Both yield the same thing here: the header, then
each data row as a tuple of strings, numbered as a spreadsheet numbers them
(the header is row 1), so every message can name a row a person can find.

Text: UTF-8, with or without the byte-order mark Excel writes; a file that is
not UTF-8 is read as Windows-1252 (Excel's "CSV" on Windows); a byte neither
can read is an error naming its row and column. A CSV line the parser cannot
read (a quote never closed, a stray quote) is an error naming its row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

FORMATS: Final = ("csv", "xlsx")
SNIFF_BYTES: Final = 64 * 1024
DELIMITERS: Final = ",;\t|"
XLSX_MAGIC: Final = b"PK\x03\x04"


class FileProblem(ValueError):
    """The file cannot be read from this point on; `row` and `column` say where."""

    def __init__(self, message: str, *, row: int | None = None,
                 column: str | None = None) -> None:
        where = ", ".join(part for part in (
            f"row {row}" if row is not None else "",
            f"column {column}" if column else "") if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.row = row
        self.column = column


@dataclass(frozen=True, slots=True)
class Sheet:
    """A readable file: its format, its header, and how many data rows follow."""

    file_format: str
    headers: tuple[str, ...]
    total_rows: int


def file_format(filename: str, content: bytes) -> str:
    """'xlsx' for a workbook (by its zip signature), else 'csv'."""
    return "xlsx" if content.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx") \
        else "csv"


def decode(content: bytes) -> str:
    """UTF-8 (BOM or not), else Windows-1252; an unreadable byte is named by row and column."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError as err:
        before = content[:err.start]
        row = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        raise FileProblem(
            f"byte 0x{content[err.start]:02X} is neither UTF-8 nor Windows-1252 text "
            f"(character {column} of the line); save the file as CSV UTF-8", row=row) from None


def delimiter(text: str) -> str:
    """The header line's delimiter (`csv.Sniffer` on that line alone); a comma if unsure.

    Only the delimiter is sniffed, and only from the header, which names the columns
    and holds no data: the sniffer's guesses of quoting from data rows (a cell with a
    quote or a line break) are what made it misread whole files. Quoting is then the
    standard one (RFC 4180, Excel's).
    """
    header = text[:SNIFF_BYTES].split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","  # one column, or too little to tell


def csv_rows(text: str) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(row number, cells) for every line of the file, the header first as row 1."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text), strict=True)
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise FileProblem(f"this line cannot be read as CSV ({err})",
                              row=number + 1) from None
        number += 1
        if cells or number == 1:
            yield number, tuple(cells)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number typed into a number cell
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def xlsx_rows(content: bytes) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(row number, cells) of the workbook's first sheet, streamed (openpyxl read-only)."""
    from openpyxl import load_workbook  # only an XLSX upload pays for the import

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises zipfile's, KeyError, its own...
        raise FileProblem(f"this is not a readable XLSX workbook ({type(err).__name__})",
                          row=None) from None
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = tuple(_cell(v) for v in values)
            while cells and cells[-1] == "":
                cells = cells[:-1]
            if cells or number == 1:
                yield number, cells
    finally:
        book.close()


def rows(file_format: str, content: bytes) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Every row of the file, header first; `FileProblem` where it cannot go on."""
    if file_format == "xlsx":
        return xlsx_rows(content)
    return csv_rows(decode(content))


def inspect(filename: str, content: bytes) -> Sheet:
    """Read the whole file once: its header and its row count, or the first problem."""
    fmt = file_format(filename, content)
    found = rows(fmt, content)
    first = next(found, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise FileProblem("the first row must name the columns; this file has none", row=1)
    headers = tuple(cell.strip() for cell in first[1])
    seen: set[str] = set()
    for index, header in enumerate(headers, start=1):
        if not header:
            raise FileProblem("a column has no name in the header", row=1, column=f"#{index}")
        if header.casefold() in seen:
            raise FileProblem("two columns have this name in the header", row=1,
                              column=header)
        seen.add(header.casefold())
    total = sum(1 for _ in found)
    return Sheet(fmt, headers, total)
