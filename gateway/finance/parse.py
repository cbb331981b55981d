"""A settlement CSV in, normalized lines and bad-row problems out. Pure.

Why every problem of a row is collected and the row skipped (rather than
the file refused): finance imports what is good today and fixes the rest
with the carrier; each problem names file, line and column so it can be
found. A file whose header lacks a required column has no good rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TypeVar

from gateway.finance.formats import ColumnMapping
from gateway.finance.lines import PAYMENT, Problem, SettlementLine
from gateway.finance.money import MoneyError, currency_code, parse_amount, parse_cents

T = TypeVar("T")


@dataclass(slots=True)
class ParsedFile:
    name: str
    rows: int = 0  # data rows seen (not counting the header)
    lines: list[SettlementLine] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return len({p.line for p in self.problems if p.line > 1})


class _RowProblems(Exception):
    pass


def parse_settlement(name: str, data: bytes, mapping: ColumnMapping) -> ParsedFile:
    parsed = ParsedFile(name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        at = data[:err.start].count(b"\n") + 1
        parsed.problems.append(Problem(name, at, "", f"not UTF-8 text (byte {err.start})"))
        return parsed
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        parsed.problems.append(Problem(name, 1, "", "empty file: no header row"))
        return parsed
    index = {h: i for i, h in enumerate(header)}
    missing = [mapping.columns[f] for f in ("amount", "settled_on")
               if mapping.columns[f] not in index]
    for column in missing:
        parsed.problems.append(Problem(name, 1, column, f"missing column (mapping "
                                                        f"{mapping.name}); header: {header}"))
    if missing:
        return parsed
    seen_ids: dict[str, int] = {}
    ranks: Counter[str] = Counter()
    try:
        for row in reader:
            line_no = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            parsed.rows += 1
            problems: list[Problem] = []
            line = _line(name, line_no, row, header, index, mapping, problems)
            if line is not None and line.row_key.startswith("id:"):
                first = seen_ids.setdefault(line.row_key, line_no)
                if first != line_no:
                    problems.append(Problem(name, line_no, mapping.columns["line_id"],
                                            f"line id repeats line {first}"))
            if problems or line is None:
                parsed.problems.extend(problems)
                continue
            if not line.row_key.startswith("id:"):  # identical rows: first, second...
                ranks[line.row_key] += 1
                line = _with_key(line, f"{line.row_key}:{ranks[line.row_key]}")
            parsed.lines.append(line)
    except csv.Error as err:
        parsed.problems.append(Problem(name, reader.line_num, "", f"unreadable CSV: {err}"))
    return parsed


def _line(name: str, line_no: int, row: list[str], header: list[str], index: dict[str, int],
          mapping: ColumnMapping, problems: list[Problem]) -> SettlementLine | None:
    if len(row) != len(header):
        problems.append(Problem(name, line_no, "", f"has {len(row)} fields, the header has "
                                                   f"{len(header)}"))
        return None

    def cell(fld: str) -> str | None:
        column = mapping.columns.get(fld)
        if column is None or column not in index:
            return None
        value = row[index[column]].strip()
        return value or None

    def read(fld: str, convert: Callable[[str], T]) -> T | None:
        value = cell(fld)
        if value is None:
            return None
        try:
            return convert(value)
        except (MoneyError, ValueError) as err:
            problems.append(Problem(name, line_no, mapping.columns[fld], str(err)))
            return None

    currency = read("currency", currency_code) or mapping.currency
    money = (lambda v: parse_amount(v, currency)) if mapping.amounts_in == "units" \
        else parse_cents
    amount, fee, net = read("amount", money), read("fee", money), read("net", money)
    settled_on = read("settled_on", lambda v: _date(v, mapping.date_formats))
    donation_ref = read("donation_ref", _reference)
    kind = read("type", lambda v: _kind(v, mapping))
    if amount is None and not problems:
        problems.append(Problem(name, line_no, mapping.columns["amount"], "amount is empty"))
    if settled_on is None and not problems:
        problems.append(Problem(name, line_no, mapping.columns["settled_on"], "date is empty"))
    if problems or amount is None or settled_on is None:
        return None
    fee = fee or 0
    if net is None:
        net = amount - fee
    elif amount - fee != net:
        problems.append(Problem(name, line_no, mapping.columns["net"],
                                f"net {net} cents is not amount {amount} - fee {fee}"))
        return None
    if kind is None:
        kind = PAYMENT if amount >= 0 else "write_off"
    line = SettlementLine(
        source=mapping.source, row_key="", line_no=line_no, kind=kind, amount_cents=amount,
        fee_cents=fee, net_cents=net, currency=currency, settled_on=settled_on,
        message_id=cell("message_id"), donation_ref=donation_ref,
        payment_ref=cell("payment_ref"), source_ref=cell("source_ref"), msisdn=cell("msisdn"),
        carrier=cell("carrier"), description=cell("description"))
    line_id = cell("line_id")
    return _with_key(line, f"id:{line_id}" if line_id else f"h:{content_digest(line)}")


def content_digest(line: SettlementLine) -> str:
    """What makes two rows the same item when the file gives no line id."""
    parts = (line.kind, line.message_id, line.donation_ref, line.payment_ref, line.source_ref,
             line.msisdn, line.amount_cents, line.fee_cents, line.currency,
             line.settled_on.isoformat())
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _with_key(line: SettlementLine, key: str) -> SettlementLine:
    return replace(line, row_key=key)


def _date(text: str, formats: tuple[str, ...]) -> date:
    for pattern in formats:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(f"not a date: {text!r} (expected {' or '.join(formats)})") from None


def _reference(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"donation reference must be a number, got {text!r}")
    return int(text)


def _kind(text: str, mapping: ColumnMapping) -> str:
    kind = mapping.kinds.get(text.strip().lower())
    if kind is None:
        raise ValueError(f"unknown type {text!r}; known: {', '.join(sorted(mapping.kinds))}")
    return kind
