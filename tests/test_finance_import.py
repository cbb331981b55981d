"""Settlement files into PostgreSQL: bad rows named, good rows in, idempotent, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from gateway.finance.formats import (
    CARRIER_DEFAULT,
    STRIPE_BALANCE_CSV,
    MappingError,
    get_mapping,
    load_mappings,
)
from gateway.finance.importer import import_settlement
from gateway.finance.parse import parse_settlement
from gateway.store import finance as store

HEADER = "line_id,message_id,donation_ref,msisdn,carrier,amount,fee,net,currency," \
         "settlement_date,type,description\n"


def carrier_file(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


GOOD = carrier_file(
    "L1,msg-1,,+12125550100,Verizon,10.00,3.00,7.00,USD,2024-09-01,payment,",
    "L2,msg-2,,+12125550101,AT&T,5.00,1.50,3.50,USD,2024-09-01,payment,",
    "L3,msg-1,,+12125550100,Verizon,-10.00,0.00,-10.00,USD,2024-10-01,adjustment,unpaid",
)


def test_the_default_format_parses_signed_cents() -> None:
    parsed = parse_settlement("sept.csv", GOOD, CARRIER_DEFAULT)
    assert parsed.problems == []
    assert [(x.row_key, x.kind, x.amount_cents, x.fee_cents, x.net_cents)
            for x in parsed.lines] == [("id:L1", "payment", 1000, 300, 700),
                                       ("id:L2", "payment", 500, 150, 350),
                                       ("id:L3", "write_off", -1000, 0, -1000)]
    assert parsed.lines[0].carrier == "Verizon" and parsed.lines[2].line_no == 4


def test_bad_rows_are_named_by_file_line_and_column() -> None:
    data = carrier_file(
        "L1,msg-1,,,,10.00,3.00,7.00,USD,2024-09-01,payment,",
        "L2,msg-2,,,,ten,0,0,USD,2024-09-01,payment,",
        "L3,msg-3,,,,1.005,0,1.005,USD,2024-09-01,payment,",
        "L4,msg-4,,,,5.00,0,5.00,XYZ,2024-09-01,payment,",
        "L5,msg-5,,,,5.00,0,5.00,USD,2024-13-45,payment,",
        "L6,msg-6,,,,5.00",
        "L7,msg-7,,,,5.00,1.00,3.00,USD,2024-09-01,payment,",
        "L8,msg-8,abc,,,5.00,0,5.00,USD,2024-09-01,bonus,",
        "L1,msg-9,,,,1.00,0,1.00,USD,2024-09-01,payment,",
    )
    parsed = parse_settlement("bad.csv", data, CARRIER_DEFAULT)
    assert [x.row_key for x in parsed.lines] == ["id:L1"]
    found = {(p.line, p.column) for p in parsed.problems}
    assert found == {(3, "amount"), (4, "amount"), (4, "net"), (5, "currency"),
                     (6, "settlement_date"), (7, ""), (8, "net"), (9, "donation_ref"),
                     (9, "type"), (10, "line_id")}
    messages = {str(p) for p in parsed.problems}
    assert "bad.csv:5: currency: unknown currency 'XYZ' (known: CAD, EUR, GBP, USD)" in messages
    assert "bad.csv:7: has 6 fields, the header has 12" in messages
    assert parsed.rows == 9 and parsed.bad_rows == 8


def test_a_file_without_a_required_column_is_refused_whole() -> None:
    parsed = parse_settlement("x.csv", b"message_id,amount\nmsg-1,10.00\n", CARRIER_DEFAULT)
    assert parsed.lines == []
    assert [(p.line, p.column) for p in parsed.problems] == [(1, "settlement_date")]
    assert parse_settlement("bin.csv", b"\xff\xfe\x00", CARRIER_DEFAULT).problems[0].line == 1


def test_identical_rows_without_line_ids_are_two_items() -> None:
    data = b"message_id,amount,settlement_date\nmsg-1,5.00,2024-09-01\nmsg-1,5.00,2024-09-01\n"
    keys = [x.row_key for x in parse_settlement("a.csv", data, CARRIER_DEFAULT).lines]
    assert len(keys) == 2 and keys[0] != keys[1] and keys[0].endswith(":1")


async def test_good_rows_are_imported_and_bad_ones_reported(pool: asyncpg.Pool) -> None:
    data = GOOD + b"L9,msg-9,,,,oops,0,0,USD,2024-09-01,payment,\n"
    result = await import_settlement(pool, "sept.csv", data, CARRIER_DEFAULT)
    assert (result.rows, result.new, result.known, result.bad) == (4, 3, 0, 1)
    assert [str(p) for p in result.problems] == ["sept.csv:5: amount: not an amount: 'oops'"]
    async with pool.acquire() as conn:
        lines = await store.list_lines(conn)
        stored = await conn.fetchval("SELECT problems::text FROM settlement_imports")
    assert sorted(x.amount_cents for x in lines) == [-1000, 500, 1000]
    assert {x.file for x in lines} == {"sept.csv"} and '"column": "amount"' in stored


async def test_the_same_file_twice_changes_nothing(pool: asyncpg.Pool) -> None:
    first = await import_settlement(pool, "sept.csv", GOOD, CARRIER_DEFAULT)
    again = await import_settlement(pool, "sept-copy.csv", GOOD, CARRIER_DEFAULT)
    assert again.already_imported and again.import_id == first.import_id and again.new == 0
    assert "already imported" in again.summary()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM settlement_imports") == 1
        assert await conn.fetchval("SELECT count(*) FROM settlement_lines") == 3


async def test_an_overlapping_period_adds_only_new_rows(pool: asyncpg.Pool) -> None:
    await import_settlement(pool, "sept.csv", GOOD, CARRIER_DEFAULT)
    later = carrier_file("L2,msg-2,,+12125550101,AT&T,5.00,1.50,3.50,USD,2024-09-01,payment,",
                         "L4,msg-4,,,,2.00,0.60,1.40,USD,2024-10-02,payment,")
    result = await import_settlement(pool, "sept-oct.csv", later, CARRIER_DEFAULT)
    assert (result.new, result.known, result.already_imported) == (1, 1, False)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM settlement_lines") == 4


async def test_an_import_that_fails_halfway_leaves_nothing(
        pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    real = store.insert_lines

    async def insert_then_fail(conn: asyncpg.Connection, import_id: int, lines: list[Any]) -> int:
        await real(conn, import_id, lines[:1])
        raise ConnectionResetError("database went away")

    monkeypatch.setattr(store, "insert_lines", insert_then_fail)  # importer's store
    with pytest.raises(ConnectionResetError):
        await import_settlement(pool, "sept.csv", GOOD, CARRIER_DEFAULT)
    monkeypatch.undo()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM settlement_imports") == 0
        assert await conn.fetchval("SELECT count(*) FROM settlement_lines") == 0
    assert (await import_settlement(pool, "sept.csv", GOOD, CARRIER_DEFAULT)).new == 3


async def test_imported_lines_cannot_be_changed(pool: asyncpg.Pool) -> None:
    await import_settlement(pool, "sept.csv", GOOD, CARRIER_DEFAULT)
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE settlement_lines SET amount_cents = 0")


def test_another_aggregators_layout_comes_from_the_mappings_file(
        tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "mappings.toml"
    path.write_text("""
[mappings.acme]
source = "carrier"
date_formats = ["%m/%d/%Y"]
amounts_in = "cents"
delimiter = ";"
[mappings.acme.columns]
message_id = "MsgID"
amount = "Gross"
fee = "Fee"
settled_on = "Paid"
type = "Kind"
[mappings.acme.kinds]
"ADJ" = "write_off"
""")
    mapping = get_mapping(load_mappings(path), "acme")
    data = b"MsgID;Gross;Fee;Paid;Kind\nmsg-1;1000;300;09/01/2024;ADJ\n"
    [line] = parse_settlement("acme.csv", data, mapping).lines
    assert (line.message_id, line.amount_cents, line.net_cents, line.kind) == \
        ("msg-1", 1000, 700, "write_off")
    with pytest.raises(MappingError, match="no column mapping named 'nope'"):
        get_mapping(load_mappings(None), "nope")
    path.write_text('[mappings.bad]\ncolumns = {amount = "A"}\n')
    with pytest.raises(MappingError, match=r"needs a column for \['settled_on'\]"):
        load_mappings(path)


def test_stripes_balance_export_reads_as_stripe_lines() -> None:
    data = (b"id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Description,"
            b"Payment Intent ID\n"
            b"txn_1,charge,ch_1,10.00,0.59,9.41,usd,2024-09-01 12:00,Donation,pi_1\n"
            b"txn_2,payout,po_1,-9.41,0.00,-9.41,usd,2024-09-03 00:00,STRIPE PAYOUT,\n")
    lines = parse_settlement("stripe.csv", data, STRIPE_BALANCE_CSV).lines
    assert [(x.row_key, x.kind, x.source, x.payment_ref, x.net_cents) for x in lines] == [
        ("id:txn_1", "payment", "stripe", "pi_1", 941), ("id:txn_2", "payout", "stripe", None,
                                                          -941)]
