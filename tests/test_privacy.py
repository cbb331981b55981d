"""Privacy rights end to end: a real supporter history over SMPP, exported, then erased.

What erasure must prove: no trace of the number is left anywhere in
the database, its opt-out survives as a keyed hash, the financial records and
the consent proof survive under a pseudonym (report totals do not move), and
the append-only ledgers still refuse every change that is not an erasure.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from gateway.app import Gateway
from gateway.broadcast import control, service
from gateway.config import Settings
from gateway.engine import load_rules
from gateway.finance import reports
from gateway.privacy import rights
from gateway.privacy.pseudonym import PrivacyKeyMissing, number_hash, pseudonym_of
from gateway.smpp.simulator import SmscSimulator
from gateway.store import broadcasts as broadcast_store
from gateway.store import privacy as privacy_store
from tests.support.broadcasts import afternoon_zone
from tests.support.e2e import (
    Phone,
    gateway_settings,
    keywords_file,
    running_gateway,
    stop_gateway,
)
from tests.support.privacy import opted_out_when_back, traces

ROOT = Path(__file__).resolve().parents[1]
SUPPORTER = "+15551230001"
BYSTANDER = "+15551230002"
KEY = "test-privacy-key"


@pytest.fixture
def private_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"privacy_hash_secret": SecretStr(KEY)})


@pytest.fixture
async def gateway(private_settings: Settings, smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    gw = await running_gateway(
        gateway_settings(private_settings, smsc, billing_interval=3600.0), smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


async def settled(gw: Gateway) -> None:
    """Bill the confirmed gift and wait for its DELIVRD receipt to settle it."""
    async with asyncio.timeout(10):
        while True:
            await gw.billing.tick()
            async with gw.pool.acquire() as conn:
                if await conn.fetchval("SELECT count(*) FROM donations WHERE status = 'billed'"):
                    return
            await asyncio.sleep(0.05)


async def history(gw: Gateway, smsc: SmscSimulator) -> None:
    """The supporter joins, answers a profile question, gives $10 on the bill, then STOPs."""
    phone, other = Phone(smsc, SUPPORTER), Phone(smsc, BYSTANDER)
    for who in (phone, other):
        await who.text("JOIN", expect=1)
        await who.text("Y", expect=2)
    await phone.text("10001", expect=1)
    await phone.text("GIVE 10", expect=1)
    await phone.text("YES", expect=0)
    async with asyncio.timeout(10):
        while True:
            async with gw.pool.acquire() as conn:
                if await conn.fetchval("SELECT count(*) FROM donations WHERE status = 'confirmed'"):
                    break
            await asyncio.sleep(0.02)
    await settled(gw)
    await phone.text("STOP", expect=1)


async def totals(conn: asyncpg.Connection) -> tuple[object, ...]:
    report = await conn.fetchrow(
        "SELECT count(*) AS n, sum(amount_cents) AS gross, sum(net_cents) AS net"
        " FROM donation_report")
    consent = await conn.fetchval("SELECT count(*) FROM consent_events")
    today = datetime.now(UTC).date()
    by_keyword = await reports.report_csv(
        conn, date_from=today - timedelta(days=1), date_to=today, group_by="keyword")
    assert b"GIVE" in by_keyword
    return (report["n"], report["gross"], report["net"], consent, by_keyword)


async def test_every_table_with_a_number_is_covered_by_erasure(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        columns = await privacy_store.number_columns(conn)
    assert columns, "the schema has number columns; the query found none"
    missing = sorted({t for t, _ in columns} - set(privacy_store.PERSONAL_TABLES))
    assert missing == [], f"add these tables to store/privacy.py PERSONAL_TABLES: {missing}"


async def test_export_then_erase_leaves_no_trace_and_keeps_the_opt_out_and_the_money(
    gateway: Gateway, smsc: SmscSimulator, private_settings: Settings,
) -> None:
    await history(gateway, smsc)
    now = datetime.now(UTC)
    async with gateway.pool.acquire() as conn:
        document = await rights.export(conn, SUPPORTER, by="dpo@example.org", now=now,
                                       settings=private_settings)
        json.dumps(document)  # plain JSON all the way down
        assert document["number"] == SUPPORTER
        assert [c["opted_out"] for c in document["contacts"]] == [True]
        assert document["contacts"][0]["state"]["profile"]["zip"] == "10001"
        assert {"JOIN", "10001", "GIVE 10", "YES", "STOP"} <= {
            m["body"] for m in document["messages_received"]}
        assert [c["kind"] for c in document["consent"]][-1] == "opted_out"
        [gift] = document["donations"]
        assert (gift["amount_cents"], gift["status"]) == (1000, "billed")
        assert any("$10" in m["body"] for m in document["messages_sent"])
        before = await totals(conn)
        bystander_rows = await conn.fetchval(
            "SELECT count(*) FROM inbound WHERE msisdn = $1", BYSTANDER)

        await conn.execute(  # a receipt for a send whose resp was lost names the number
            "INSERT INTO pending_receipts (smsc_message_id, number, text_head)"
            " VALUES ('lost-1', $1, 'Thanks')", SUPPORTER.lstrip("+"))
        report = await rights.erase(conn, SUPPORTER, by="dpo@example.org",
                                    settings=private_settings)

        assert await traces(conn, SUPPORTER) == []
        assert await totals(conn) == before
        digest = number_hash(KEY.encode(), SUPPORTER)
        assert report.pseudonym == pseudonym_of(digest)
        assert report.kept_opt_out_for == (private_settings.shortcode,)
        assert await conn.fetchval(
            "SELECT opted_out FROM erased_numbers WHERE number_hash = $1", digest) is True
        kept = await conn.fetchrow("SELECT msisdn, amount_cents FROM donations")
        assert (kept["msisdn"], kept["amount_cents"]) == (report.pseudonym, 1000)
        assert await conn.fetchval(
            "SELECT count(*) FROM consent_events WHERE msisdn = $1", report.pseudonym) >= 3
        assert await conn.fetchval(
            "SELECT count(*) FROM inbound WHERE msisdn = $1", BYSTANDER) == bystander_rows
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log ORDER BY id")]
        assert actions[-2:] == [rights.ACTION_EXPORTED, rights.ACTION_ERASED]

        again = await rights.erase(conn, SUPPORTER, by="dpo@example.org",
                                   settings=private_settings)
        assert sum(again.rows.values()) == 0
        empty = await rights.export(conn, SUPPORTER, by="dpo@example.org", now=now,
                                    settings=private_settings)
        assert all(empty[name] == [] for name in privacy_store.EXPORT_QUERIES)


async def test_an_erased_number_that_opted_out_comes_back_opted_out_and_broadcasts_skip_it(
    gateway: Gateway, smsc: SmscSimulator, private_settings: Settings,
) -> None:
    await history(gateway, smsc)
    async with gateway.pool.acquire() as conn:
        await rights.erase(conn, SUPPORTER, by="dpo", settings=private_settings)
        program = await conn.fetchval(
            "SELECT program FROM consent_events WHERE msisdn = $1 LIMIT 1", BYSTANDER)

    assert await Phone(smsc, SUPPORTER).text("hello again", expect=0) == []
    assert await opted_out_when_back(gateway.pool, SUPPORTER) is True  # the hash kept the STOP

    async with gateway.pool.acquire() as conn:
        # quiet hours out of the way honestly: everyone lives where it is afternoon now
        await conn.execute(
            "UPDATE contacts SET timezones = $1, region = 'NY', country = 'US',"
            " geo_source = 'zip'", [afternoon_zone(datetime.now(UTC))])
        broadcast_id = await service.create(
            conn, rules=load_rules(ROOT / "keywords.yaml"), program=program,
            shortcode=private_settings.shortcode, where="", text="Rally on Saturday.",
            created_by="privacy-test", now=datetime.now(UTC))
        await control.start(conn, broadcast_id)
    async with asyncio.timeout(20):
        while True:
            async with gateway.pool.acquire() as conn:
                if await broadcast_store.get_status(conn, broadcast_id) == "done":
                    break
            await asyncio.sleep(0.05)
    assert "Rally on Saturday." in Phone(smsc, BYSTANDER).received
    assert "Rally on Saturday." not in Phone(smsc, SUPPORTER).received


async def test_the_ledgers_stay_append_only_outside_an_erasure_and_for_other_columns(
    gateway: Gateway, smsc: SmscSimulator,
) -> None:
    await history(gateway, smsc)
    async with gateway.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE consent_events SET msisdn = 'erased:x'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await conn.execute(privacy_store.ERASING)
                await conn.execute("UPDATE consent_events SET kind = 'opt_in_confirmed'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await conn.execute(privacy_store.ERASING)
                await conn.execute("UPDATE donations SET msisdn = 'erased:x', amount_cents = 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await conn.execute(privacy_store.ERASING)
                await conn.execute("UPDATE consent_events SET msisdn = 'someone else'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await conn.execute(privacy_store.ERASING)
                await conn.execute("DELETE FROM consent_events")


async def test_a_message_waiting_in_the_outbox_is_never_sent_after_erasure(
    pool: asyncpg.Pool, private_settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO outbound (msisdn, shortcode, body, not_before)"
            " VALUES ($1, '12345', 'later', now() + interval '1 hour')", SUPPORTER)
        await rights.erase(conn, SUPPORTER, by="dpo", settings=private_settings)
        row = await conn.fetchrow("SELECT status, body FROM outbound")
    assert (row["status"], row["body"]) == ("suppressed", "")


async def test_erasure_without_a_hash_key_refuses_and_changes_nothing(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO contacts (msisdn, shortcode, opted_out) VALUES ($1, '12345', true)",
            SUPPORTER)
        with pytest.raises(PrivacyKeyMissing, match="GATEWAY_PRIVACY_HASH_SECRET"):
            await rights.erase(conn, SUPPORTER, by="dpo", settings=settings)
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 1


async def test_retention_lists_idle_contacts_then_erases_only_them(
    pool: asyncpg.Pool, private_settings: Settings,
) -> None:
    now = datetime.now(UTC)
    idle_since = now - timedelta(days=private_settings.privacy_retention_days + 1)
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO contacts (msisdn, shortcode, updated_at) VALUES ($1, '12345', $2)",
            [(SUPPORTER, idle_since), (BYSTANDER, now - timedelta(days=2))])
        listed = await rights.idle_contacts(conn, settings=private_settings, now=now)
        assert [m for m, _ in listed] == [SUPPORTER]
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 2  # listing erases nothing
        erased = await rights.apply_retention(conn, settings=private_settings, now=now)
        assert len(erased) == 1
        remaining = [r["msisdn"] for r in await conn.fetch("SELECT msisdn FROM contacts")]
    assert remaining == [BYSTANDER]


async def test_the_cli_exports_to_a_file_and_erases_only_with_yes(
    db_url: str, pool: asyncpg.Pool, tmp_path: Path,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO contacts (msisdn, shortcode, opted_out) VALUES ($1, '12345', true)",
            SUPPORTER)
    out = tmp_path / "export.json"

    async def run(*argv: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": db_url, "GATEWAY_PRIVACY_HASH_SECRET": KEY}
        return await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "gateway.cli", "privacy", *argv],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False)

    exported = await run("export", SUPPORTER, "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    assert json.loads(out.read_text())["contacts"][0]["opted_out"] is True
    typo = await run("erase", "not a number")
    assert (typo.returncode, "cannot parse phone number" in typo.stderr) == (2, True)
    unconfirmed = await run("erase", SUPPORTER)
    assert (unconfirmed.returncode, "argument --yes" in unconfirmed.stderr) == (2, True)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 1
    erased = await run("erase", SUPPORTER, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "opt-out kept" in erased.stdout
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 0


async def test_gifts_kept_under_the_pseudonym_still_count_toward_the_legal_limits(
    private_settings: Settings, smsc: SmscSimulator, tmp_path: Path,
) -> None:
    """Erasure must not be a way around the FEC limits: $10, erased, then $10 over a $15 cap."""
    path = keywords_file(tmp_path, lambda doc: doc["donations"]["rise"]["limits"].update(
        {"per_month_by_phone": 15}))
    gw = await running_gateway(
        gateway_settings(private_settings, smsc, billing_interval=3600.0, keywords=path), smsc)
    try:
        phone = Phone(smsc, SUPPORTER)

        async def give_ten(confirmed: int) -> None:
            [ask] = await phone.text("GIVE 10", expect=1)
            assert "YES" in ask
            await phone.text("YES", expect=0)
            async with asyncio.timeout(10):
                while True:
                    async with gw.pool.acquire() as conn:
                        if await conn.fetchval("SELECT count(*) FROM donation_events"
                                               " WHERE kind = 'confirmed'") >= confirmed:
                            break
                    await asyncio.sleep(0.02)

        await give_ten(1)
        await settled(gw)
        async with gw.pool.acquire() as conn:
            await rights.erase(conn, SUPPORTER, by="dpo", settings=private_settings)
        await give_ten(2)
        before = len(phone.received)
        await gw.billing.tick()
        async with asyncio.timeout(10):
            await smsc.wait_until(lambda: len(phone.received) > before)
        assert "legal limit of $15 a month by text" in phone.received[-1]
        async with gw.pool.acquire() as conn:
            statuses = [r["status"] for r in await conn.fetch(
                "SELECT status FROM donations ORDER BY id")]
        assert statuses == ["billed", "refused"]
    finally:
        await stop_gateway(gw)
