"""Reconciliation against a real ledger: every status, the identity per source, to the cent."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import asyncpg

from gateway.finance.formats import CARRIER_DEFAULT, STRIPE_BALANCE_CSV
from gateway.finance.importer import import_settlement
from gateway.finance.summary import reconciliation
from tests.support.finance_ledger import NOW, gift

CARRIER_HEADER = "message_id,donation_ref,carrier,amount,fee,settlement_date,type\n"
STRIPE_HEADER = "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Payment Intent ID\n"


async def test_each_status_and_the_identity_per_source(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        c1 = await gift(conn, amount=1000)
        c2 = await gift(conn, amount=500)
        c3 = await gift(conn, amount=1000, at=NOW - timedelta(days=130))
        c4 = await gift(conn, amount=300)
        c5 = await gift(conn, amount=1000, outcome="billed_unknown")
        c6 = await gift(conn, amount=700, outcome="failed")
        k1 = await gift(conn, method="card", amount=2500)
        k2 = await gift(conn, method="card", amount=1000, refunded=1000)
        k3 = await gift(conn, method="card", amount=1000, disputed=True)
    carrier = CARRIER_HEADER + "\n".join([
        f"{c1.message_id},,Verizon,10.00,3.00,2024-12-01,payment",
        f"{c2.message_id},,AT&T,4.50,1.35,2024-12-01,payment",
        f"{c4.message_id},,Verizon,3.00,0.90,2024-12-01,payment",
        f"{c4.message_id},,Verizon,-3.00,0,2025-01-01,adjustment",
        f",{c5.id},Verizon,10.00,3.00,2024-12-01,payment",
        f"{c6.message_id},,Verizon,7.00,2.10,2024-12-01,payment",
        "msg-nobody,,T-Mobile,2.00,0.60,2024-12-01,payment"]) + "\n"
    stripe = STRIPE_HEADER + "\n".join([
        f"txn_1,charge,ch_1,25.00,1.03,23.97,usd,2024-06-01 10:00,{k1.payment_intent}",
        f"txn_2,charge,ch_2,10.00,0.59,9.41,usd,2024-06-01 10:00,{k2.payment_intent}",
        f"txn_3,refund,re_2,-10.00,0.00,-10.00,usd,2024-06-03 10:00,{k2.payment_intent}",
        f"txn_4,charge,ch_3,10.00,0.59,9.41,usd,2024-06-01 10:00,{k3.payment_intent}",
        f"txn_5,adjustment,dp_3,-10.00,15.00,-25.00,usd,2024-06-09 10:00,{k3.payment_intent}",
        "txn_6,payout,po_1,-8.79,0.00,-8.79,usd,2024-06-10 00:00,"]) + "\n"
    assert (await import_settlement(pool, "carrier.csv", carrier.encode(),
                                    CARRIER_DEFAULT)).new == 7
    assert (await import_settlement(pool, "stripe.csv", stripe.encode(),
                                    STRIPE_BALANCE_CSV)).new == 6

    summary = await reconciliation(pool, now=NOW)
    assert summary.identity_holds
    c, s = summary.sources["carrier"].as_dict(), summary.sources["stripe"].as_dict()
    assert c["ledger"] == {"count": 4, "total_cents": 2800}
    assert (c["settled_cents"], c["pending_cents"], c["written_off_cents"],
            c["unmatched_cents"]) == (1450, 1000, 300, 50)
    assert c["statuses"] == {"matched": 1, "amount_mismatch": 1, "in_ledger_not_settled": 1,
                             "settled_unknown_in_ledger": 3, "adjusted": 1}
    assert c["pending_by_age_cents"]["over 120 days"] == 1000
    assert c["settled_unknown_in_ledger"] == {"count": 3, "cents": 1900}
    assert c["billed_unknown"] == {"count": 1, "cents": 1000, "settled": 1}
    assert s["ledger"] == {"count": 3, "total_cents": 4500}
    assert (s["settled_cents"], s["pending_cents"], s["written_off_cents"],
            s["unmatched_cents"]) == (2500, 0, 2000, 0)
    assert s["statuses"]["adjusted"] == 2 and s["statuses"]["matched"] == 1
    assert s["settlement"]["payouts_cents"] == -879 and s["settlement"]["fee_cents"] == 1721

    rows = list(csv.DictReader(io.StringIO(summary.exceptions_csv().decode())))
    by = {(r["status"], r["donation_id"]): r for r in rows}
    assert by[("amount_mismatch", str(c2.id))]["difference"] == "-0.50"
    assert by[("in_ledger_not_settled", str(c3.id))]["age_days"] == "129"
    assert by[("billed_unknown", str(c5.id))]["received"] == "10.00"
    assert "cut off mid-send" in by[("settled_unknown_in_ledger", str(c5.id))]["reason"]
    assert "no billed or charged" in by[("settled_unknown_in_ledger", str(c6.id))]["reason"]
    nobody = by[("settled_unknown_in_ledger", "")]
    assert (nobody["file"], nobody["line"], nobody["reference"]) == \
        ("carrier.csv", "8", "msg-nobody")
    assert {r["status"] for r in rows} == {"amount_mismatch", "in_ledger_not_settled",
                                           "adjusted", "settled_unknown_in_ledger",
                                           "billed_unknown"}
    assert "adds up" in summary.table() and "NO" not in summary.table()


async def test_tenths_of_dollars_add_up_to_the_cent_end_to_end(pool: asyncpg.Pool) -> None:
    """0.10 + 0.20 through file, database, matching and output: 0.30, never 0.30000000000000004."""
    async with pool.acquire() as conn:
        gifts = [await gift(conn, amount=amount) for amount in (10, 20) * 5]
    rows = "".join(f"{g.message_id},,V,{g.amount_cents / 100:.2f},0.00,2024-12-01,payment\n"
                   for g in gifts)
    await import_settlement(pool, "tenths.csv", (CARRIER_HEADER + rows).encode(),
                            CARRIER_DEFAULT)
    summary = await reconciliation(pool, now=NOW)
    carrier = summary.sources["carrier"]
    assert carrier.ledger_cents == carrier.settled_cents == 150
    assert "1.50" in summary.table() and carrier.statuses["matched"] == 10
