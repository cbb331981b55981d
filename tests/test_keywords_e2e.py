"""Keywords, consent and profiles end to end: simulator → gateway → PostgreSQL → simulator.

Each test texts the gateway over real SMPP and checks three things: what the
phone received (the simulator's record), what the contact looks like in the
database (engine state and derived location columns), and what the consent
ledger says, down to the confirmation MT and its delivery receipt.

What the engine decides on its own (typos, HELP inside a dialog, a dialog's
expiry, STOP from a new number) is in tests/scenarios/*.yaml, run without
SMPP; the tests here are the paths through the shell.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
from structlog.testing import capture_logs

from gateway.app import Gateway
from gateway.config import Settings
from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import SmscSimulator
from gateway.store import consent as consent_store
from gateway.store import contacts as contacts_store
from tests.support.e2e import (
    SHORTCODE,
    Phone,
    gateway_settings,
    keywords_file,
    running_gateway,
    wait_for,
)

CONFIRM_REQUEST = "Rise Up Alerts: reply Y to confirm you want campaign alerts."
CONFIRMATION = "Rise Up Alerts: you're in! Up to 6 msgs/mo. Msg&data rates may apply."
ZIP_PROMPT = "What's your 5-digit ZIP code? (Reply SKIP to skip)"
ZIP_REPROMPT = "Hmm, that isn't a US ZIP code we know."
GENDER_PROMPT = "How do you identify? Reply M, F or OTHER (or SKIP)."
OPTED_OUT = "Rise Up Alerts: you are unsubscribed and will receive no more messages."


async def outbound_to(conn: asyncpg.Connection, msisdn: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT id, body, compliance, status FROM outbound WHERE msisdn = $1 ORDER BY id", msisdn
    ))


async def contact(conn: asyncpg.Connection, msisdn: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT opted_out, state::text AS state FROM contacts WHERE msisdn = $1", msisdn
    )
    assert row is not None
    geo = await contacts_store.get_geo(conn, msisdn, SHORTCODE)
    assert geo is not None
    return {"opted_out": row["opted_out"], "state": json.loads(row["state"]), **dict(geo)}


async def ledger(conn: asyncpg.Connection, msisdn: str) -> list[asyncpg.Record]:
    return await consent_store.list_for_contact(conn, msisdn, SHORTCODE)


async def timeline_names(conn: asyncpg.Connection, msisdn: str) -> list[str]:
    rows = await conn.fetch("SELECT name FROM contact_events WHERE msisdn = $1 ORDER BY id",
                            msisdn)
    return [r["name"] for r in rows]


# -- the supporter's journey --------------------------------------------------------------

async def test_join_confirm_zip_gender_with_a_bad_zip_reprompted(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    phone = Phone(smsc, "+12125550101")  # a Manhattan number...
    [ask] = await phone.text("JOIN", expect=1)
    assert ask.startswith(CONFIRM_REQUEST)
    async with gateway.pool.acquire() as conn:
        before_zip = await contact(conn, phone.msisdn)
    # ...located by its area code until the supporter tells us better
    assert (before_zip["region"], before_zip["timezones"], before_zip["geo_source"]) == (
        "NY", ["America/New_York"], "area_code")
    assert before_zip["zip"] is None

    confirmed, first_question = await phone.text("Y", expect=2)
    assert confirmed.startswith(CONFIRMATION)
    assert first_question == ZIP_PROMPT
    [again] = await phone.text("1234", expect=1)
    assert again.startswith(ZIP_REPROMPT)
    assert await phone.text("60601", expect=1) == [GENDER_PROMPT]  # ...who lives in Chicago
    assert await phone.text("female", expect=1) == [
        "Thanks, friend! We'll keep you posted on events near 60601."]

    async with gateway.pool.acquire() as conn:
        stored = await contact(conn, phone.msisdn)
        rows = await ledger(conn, phone.msisdn)
        sent = await outbound_to(conn, phone.msisdn)
    assert stored["opted_out"] is False
    assert stored["state"]["profile"] == {
        "zip": "60601", "state": "IL", "timezone": "America/Chicago", "gender": "F"}
    assert "dialog" not in stored["state"]
    assert (stored["zip"], stored["region"], stored["country"], stored["timezones"],
            stored["geo_source"]) == ("60601", "IL", "US", ["America/Chicago"], "zip")

    assert [(r["kind"], r["mo_text"], r["keyword"]) for r in rows] == [
        ("opt_in_requested", "JOIN", "JOIN"), ("opt_in_confirmed", "Y", "JOIN")]
    bodies = {mt["id"]: mt["body"] for mt in sent}
    for row, text in zip(rows, (CONFIRM_REQUEST, CONFIRMATION), strict=True):
        assert bodies[row["outbound_id"]].startswith(text)
        assert row["disclosure_text"] == bodies[row["outbound_id"]]
        assert (row["program"], row["shortcode"], row["privacy_version"],
                row["disclosure_version"]) == ("rise", SHORTCODE, "2024-05", "us-optin-v3")
        assert row["occurred_at"].utcoffset() is not None

    async def receipts_in() -> bool:
        async with gateway.pool.acquire() as conn:
            rows = await ledger(conn, phone.msisdn)
        return [r["receipt_status"] for r in rows] == ["DELIVRD", "DELIVRD"]

    await wait_for(receipts_in)
    async with gateway.pool.acquire() as conn:
        rows = await ledger(conn, phone.msisdn)
    assert all(r["confirmation_status"] == "delivered" and r["receipt_at"] for r in rows)


async def test_stop_in_the_middle_of_a_dialog_ends_everything(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    phone = Phone(smsc, "+14155550103")
    await phone.text("JOIN", expect=1)
    await phone.text("Y", expect=2)
    async with gateway.pool.acquire() as conn:  # a broadcast due in a second
        await conn.execute(
            "INSERT INTO outbound (msisdn, shortcode, body, priority, not_before)"
            " VALUES ($1, $2, 'Rally on Saturday!', 5, now() + interval '1 second')",
            phone.msisdn, SHORTCODE,
        )
    assert await phone.text("stop texting me please", expect=1) == [OPTED_OUT]
    status = await smsc.inject_mo(phone.msisdn, SHORTCODE, "94103")  # answers nothing now
    assert status == CommandStatus.ESME_ROK

    async def broadcast_suppressed() -> bool:
        async with gateway.pool.acquire() as conn:
            status: str = await conn.fetchval(
                "SELECT status FROM outbound WHERE body = 'Rally on Saturday!'")
        return status == "suppressed"

    await wait_for(broadcast_suppressed)
    async with gateway.pool.acquire() as conn:
        stored = await contact(conn, phone.msisdn)
        rows = await ledger(conn, phone.msisdn)
        sent = await outbound_to(conn, phone.msisdn)
        names = await timeline_names(conn, phone.msisdn)
    assert stored["opted_out"] is True and "dialog" not in stored["state"]
    assert "zip" not in stored["state"].get("profile", {})
    assert names[-3:] == ["dialog_stopped", "opted_out", "ignored_opted_out"]
    assert [r["kind"] for r in rows] == ["opt_in_requested", "opt_in_confirmed", "opted_out"]
    stop_mt = next(mt for mt in sent if mt["id"] == rows[-1]["outbound_id"])
    assert stop_mt["compliance"] and stop_mt["body"] == OPTED_OUT
    assert rows[-1]["mo_text"] == "stop texting me please"
    assert phone.received[-1] == OPTED_OUT and phone.received.count(OPTED_OUT) == 1
    assert "Rally on Saturday!" not in phone.received


async def test_start_after_stop_is_a_new_consent_with_a_full_confirmation(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    phone = Phone(smsc, "+12065550107")
    await phone.text("JOIN", expect=1)
    await phone.text("Y", expect=2)
    await phone.text("STOP", expect=1)
    [welcome_back] = await phone.text("START", expect=1)
    assert welcome_back.startswith(CONFIRMATION)
    for needed in ("Up to 6 msgs/mo", "Msg&data rates may apply", "HELP", "STOP"):
        assert needed in welcome_back
    async with gateway.pool.acquire() as conn:
        rows = await ledger(conn, phone.msisdn)
        stored = await contact(conn, phone.msisdn)
        sent = {mt["id"]: mt["body"] for mt in await outbound_to(conn, phone.msisdn)}
    assert [r["kind"] for r in rows] == [
        "opt_in_requested", "opt_in_confirmed", "opted_out", "resubscribed"]
    assert (rows[-1]["mo_text"], rows[-1]["keyword"]) == ("START", "START")
    assert sent[rows[-1]["outbound_id"]] == welcome_back
    assert len({r["id"] for r in rows}) == 4  # a new record; the old ones unchanged
    assert stored["opted_out"] is False
    assert stored["state"]["subs"]["rise"]["status"] == "subscribed"


async def test_many_supporters_in_one_batch_get_their_own_ledger_links(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    numbers = [f"+1212555{n:04d}" for n in range(200)]
    stats = await smsc.inject_load(200, numbers, window=100, texts=["JOIN"])
    assert stats.acked == 200
    async with gateway.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT e.msisdn, e.kind, o.msisdn AS mt_to, o.in_reply_to, e.inbound_id, o.body,"
            "       c.geo_source"
            " FROM consent_events e JOIN outbound o ON o.id = e.outbound_id"
            " JOIN contacts c ON c.msisdn = e.msisdn AND c.shortcode = e.shortcode"
        )
    assert len(rows) == 200 and {r["msisdn"] for r in rows} == set(numbers)
    for row in rows:
        assert row["kind"] == "opt_in_requested"
        assert (row["mt_to"], row["in_reply_to"]) == (row["msisdn"], row["inbound_id"])
        assert row["body"].startswith(CONFIRM_REQUEST)
        assert row["geo_source"] == "area_code"


# -- reload (SIGHUP) ----------------------------------------------------------------------

async def test_reload_keeps_the_old_rules_on_a_bad_file_and_swaps_on_a_good_one(
    settings: Settings, smsc: SmscSimulator, tmp_path: Path
) -> None:
    path = keywords_file(tmp_path, lambda doc: None)
    gw = await running_gateway(gateway_settings(settings, smsc, keywords=path), smsc)
    try:
        phone = Phone(smsc, "+12125550108")
        in_force = gw.rules.current

        def no_stop_in_confirmation(doc: dict[str, Any]) -> None:
            doc["programs"]["rise"]["texts"]["confirmation"] = "{program}: you're in!"

        keywords_file(tmp_path, no_stop_in_confirmation)
        with capture_logs() as logs:
            assert gw.reload_rules() is False
        assert gw.rules.current is in_force
        [refused] = [e for e in logs if e["event"] == "keywords_reload_refused"]
        assert refused["log_level"] == "error"
        assert any("keywords.yaml:" in p and "STOP" in p for p in refused["problems"])
        [facts] = await phone.text("FACTS", expect=1)
        assert facts.startswith("Rise Up Alerts: 3 in 4 voters")

        def new_facts(doc: dict[str, Any]) -> None:
            doc["keywords"][1]["reply"] = "{program}: new facts every week."

        keywords_file(tmp_path, new_facts)
        with capture_logs() as logs:
            assert gw.reload_rules() is True
        assert gw.rules.current is not in_force
        assert [e["event"] for e in logs] == ["keywords_reloaded"]
        assert await phone.text("FACTS", expect=1) == ["Rise Up Alerts: new facts every week."]
    finally:
        await gw.stop()
        await gw.pool.close()
