"""`gateway report ...` and `gateway reconcile ...` as finance staff type them (subprocesses)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.support.cli import CLEAN_ENV, PYTHONPATH, ROOT
from tests.support.fake_stripe_balance import FakeStripeBalance
from tests.support.finance_ledger import NOW, gift


async def gateway(db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**CLEAN_ENV, "PYTHONPATH": PYTHONPATH, "DATABASE_URL": db_url,
               "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"), "GATEWAY_LOG_LEVEL": "warning",
               **env}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True, text=True, cwd=ROOT, env=environ, timeout=60, check=False)


async def test_import_summarize_and_report(db_url: str, pool: asyncpg.Pool,
                                           tmp_path: Path) -> None:
    async with pool.acquire() as conn:
        paid = await gift(conn, amount=1000)
        await gift(conn, amount=500)
        card = await gift(conn, method="card", amount=2500)
    settlement = tmp_path / "verizon-2024-08.csv"
    settlement.write_text("message_id,carrier,amount,fee,settlement_date\n"
                          f"{paid.message_id},Verizon,10.00,3.00,2024-08-01\n"
                          "msg-x,Verizon,twelve,0,2024-08-01\n")
    done = await gateway(db_url, "reconcile", "import-settlement", str(settlement))
    assert done.returncode == 1, done.stderr  # a row was refused; the good one is in
    assert "verizon-2024-08.csv:3: amount: not an amount: 'twelve'" in done.stderr
    assert "2 rows, 1 new, 0 already known, 1 refused" in done.stdout
    again = await gateway(db_url, "reconcile", "import-settlement", str(settlement))
    assert "already imported" in again.stdout

    balance = FakeStripeBalance()
    await balance.start()
    try:
        assert card.payment_intent
        balance.charge(2500, payment_intent=card.payment_intent, fee=103)
        stripe = await gateway(db_url, "reconcile", "import-stripe", "--api",
                               GATEWAY_STRIPE_SECRET_KEY=balance.api_key,
                               GATEWAY_STRIPE_API_BASE=balance.base_url)
    finally:
        await balance.close()
    assert stripe.returncode == 0, stripe.stderr
    assert "1 row, 1 new" in stripe.stdout
    no_key = await gateway(db_url, "reconcile", "import-stripe", "--api")
    assert no_key.returncode == 2 and "GATEWAY_STRIPE_SECRET_KEY" in no_key.stderr

    exceptions = tmp_path / "exceptions.csv"
    table = await gateway(db_url, "reconcile", "summary", "--exceptions-csv", str(exceptions))
    assert table.returncode == 0, table.stderr
    assert "carrier" in table.stdout and "yes" in table.stdout
    rows = list(csv.DictReader(io.StringIO(exceptions.read_text())))
    assert [r["status"] for r in rows] == ["in_ledger_not_settled"]
    doc = json.loads((await gateway(db_url, "reconcile", "summary", "--format", "json")).stdout)
    assert doc["identity_holds"] is True
    assert doc["sources"]["stripe"]["settled_cents"] == 2500

    day = (NOW.date().replace(day=1)).isoformat()
    report = await gateway(db_url, "report", "donations", "--from", "2024-01-01", "--to", day,
                           "--group-by", "method", "--format", "csv")
    assert report.returncode == 0, report.stderr
    lines = list(csv.DictReader(io.StringIO(report.stdout)))
    assert [(r["group"], r["gross"], r["fees"], r["pending_settlement"]) for r in lines] == [
        ("card", "25.00", "1.03", "0.00"), ("carrier", "15.00", "3.00", "5.00"),
        ("total", "40.00", "4.03", "5.00")]
    items = await gateway(db_url, "report", "itemization", "--from", "2024-01-01", "--to", day,
                          "--threshold", "20.00")
    assert items.returncode == 0, items.stderr
    assert items.stdout.splitlines()[0].startswith("committee,donor,name,street")
    bad = await gateway(db_url, "report", "donations", "--from", "2024-13-01", "--to", day)
    assert bad.returncode == 2 and "invalid day value" in bad.stderr


async def test_a_committee_typo_and_a_file_without_the_mapped_columns_are_named(
    db_url: str, pool: asyncpg.Pool, tmp_path: Path,
) -> None:
    async with pool.acquire() as conn:
        await gift(conn, amount=1000)
        committee = await conn.fetchval("SELECT committee FROM donations LIMIT 1")
    period = ("--from", "2024-01-01", "--to", "2030-12-31")
    typo = await gateway(db_url, "report", "donations", *period, "--committee", committee + "x")
    assert typo.returncode == 2 and "Traceback" not in typo.stderr
    assert typo.stderr == (f"gateway report: argument --committee: no donation was recorded "
                           f"for {committee + 'x'!r}; committees: {committee}\n")
    right = await gateway(db_url, "report", "donations", *period, "--committee", committee)
    assert right.returncode == 0, right.stderr
    headless = tmp_path / "settlement.csv"
    headless.write_text("id,total\n1,2.00\n")
    refused = await gateway(db_url, "reconcile", "import-settlement", str(headless))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("settlement.csv:1: "), refused.stderr
