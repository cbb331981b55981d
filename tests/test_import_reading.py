"""The contact file reader and the row classifier: any CSV the csv module writes reads back
cell for cell whatever the delimiter and encoding; bad input is named by row and column;
a file that breaks mid-way fails the job there and keeps every chunk before it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from gateway.services.imports import mapping, reading, rows
from gateway.services.imports.context import programs_of
from gateway.store import contact_imports
from tests.support.imports import MAPPING, RULES, contact_file, runner, uploaded

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# any text but the delimiters themselves (a cell may hold quotes, line breaks, accents)
cells = st.text(st.characters(codec="utf-8", exclude_characters="\x00\r,;\t|"),
                max_size=12)


def written(table: list[list[str]], delimiter: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(table)
    return out.getvalue()


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5).flatmap(lambda width: st.lists(
    st.lists(cells, min_size=width, max_size=width), min_size=2, max_size=8)),
    st.sampled_from([",", ";", "\t"]))
def test_what_csv_writes_reads_back_cell_for_cell(table: list[list[str]],
                                                  delimiter: str) -> None:
    table[0] = [f"col{i}" for i in range(len(table[0]))]  # a header names every column
    found = list(reading.csv_rows(written(table, delimiter)))
    assert [list(c) for _, c in found] == table
    assert [n for n, _ in found] == list(range(1, len(table) + 1))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=12),
       st.text(max_size=12))
def test_the_row_classifier_never_raises_and_subscribes_only_with_all_three(
        number: str, source: str, date: str, optout: str) -> None:
    headers = ["phone", "source", "date", "wording", "out"]
    context = rows.Context(
        columns={"phone": 0, "consent_source": 1, "consent_date": 2, "consent_wording": 3,
                 "opted_out": 4},
        headers=headers, country="US", program="rise", programs=programs_of(RULES), now=NOW)
    row = rows.classify(2, [number, source, date, "Spring", optout], context)
    assert (row.skip is None) == (row.msisdn is not None)
    if row.skip is not None:
        assert row.column == "phone"
    if row.consent == rows.GIVEN:
        assert source.strip() and date.strip() and optout.strip().lower() in \
            rows.NOT_OPTED_OUT
        assert row.consent_at is not None and row.consent_at <= NOW
    if optout.strip() and optout.strip().lower() not in rows.NOT_OPTED_OUT and row.skip is None:
        assert row.consent == rows.OPTED_OUT  # an opt-out is never lost to its spelling


def test_encodings_and_their_errors_name_the_row() -> None:
    assert reading.decode("Prénom\n".encode("utf-8-sig")) == "Prénom\n"
    assert reading.decode("Prénom\n".encode("cp1252")) == "Prénom\n"
    with pytest.raises(reading.FileProblem, match=r"row 2: byte 0x81 .*character 3"):
        reading.decode(b"phone\n12\x81\n")


def test_a_broken_line_and_a_bad_header_are_named() -> None:
    with pytest.raises(reading.FileProblem, match="row 3: this line cannot be read"):
        list(reading.csv_rows('phone,name\n1,"a"\n2,"b"x\n'))
    with pytest.raises(reading.FileProblem, match="row 1, column phone: two columns"):
        reading.inspect("a.csv", b"Phone,phone\n1,2\n")
    with pytest.raises(reading.FileProblem, match=r"column 'Cell' for phone"):
        mapping.checked({"phone": "Cell"}, ["Phone"])
    with pytest.raises(reading.FileProblem, match="phone numbers"):
        mapping.checked({"email": "Phone"}, ["Phone"])


def test_an_xlsx_reads_like_its_csv() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Phone", "Opt-in date", "Name"])
    sheet.append([12125550101, datetime(2025, 3, 1), "Ana"])
    sheet.append([None, None, None])
    sheet.append(["(212) 555-0102", "2025-03-02", None])
    out = io.BytesIO()
    book.save(out)
    content = out.getvalue()
    assert reading.inspect("list.xlsx", content) == reading.Sheet(
        "xlsx", ("Phone", "Opt-in date", "Name"), 2)
    assert [c for _, c in reading.rows("xlsx", content)][1:] == [
        ("12125550101", "2025-03-01T00:00:00", "Ana"), ("(212) 555-0102", "2025-03-02")]
    assert mapping.guess(["Phone", "Opt-in date", "Name"]) == {
        "phone": "Phone", "consent_date": "Opt-in date"}


async def test_a_file_broken_mid_way_fails_there_and_keeps_what_came_before(
        pool: asyncpg.Pool) -> None:
    good = contact_file(1_200)
    broken = good + b'(212) 555-9999,"Eve,Roux\n'  # a quote never closed, on row 1202
    async with pool.acquire() as conn:
        import_id = await uploaded(conn, good, phase="import")
        await conn.execute("UPDATE contact_imports SET content = $1 WHERE id = $2",
                           broken, import_id)  # as if the file changed after its check
    assert await runner(pool, chunk_rows=500).run_once()
    async with pool.acquire() as conn:
        job = await contact_imports.get(conn, import_id)
        assert job is not None
        assert (job["status"], job["error_row"], job["next_row"]) == ("failed", 1202, 1_200)
        assert "cannot be read as CSV" in job["error"]
        kept = await conn.fetchval("SELECT count(*) FROM contact_import_rows")
        assert kept == 1_200
        assert await conn.fetchval("SELECT count(*) FROM consent_events") > 0


def test_the_guess_knows_french_and_crm_headers() -> None:
    assert mapping.guess(["Téléphone portable", "Prénom", "Nom", "Courriel", "Code postal"]) \
        == {"phone": "Téléphone portable", "first_name": "Prénom", "last_name": "Nom",
            "email": "Courriel", "zip": "Code postal"}
    assert mapping.guess(list(MAPPING.values())) == MAPPING
