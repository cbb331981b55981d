"""The e-mail consent ledger in PostgreSQL: append-only, erasable only to a pseudonym, the
state it derives, and what the sender asks of it before a bulk mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.config import Settings
from gateway.email_consent import Evidence, confirm, unsubscribe, unsubscribe_url
from gateway.privacy.pseudonym import number_hash, pseudonym_of
from gateway.store import address_consent
from tests.support.email_consent import (
    RULES,
    confirmation_path,
    mailing_settings,
    tick_box,
)

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ANA = "ana@example.org"
KEY = b"privacy-test-key"


async def subscribed(conn: asyncpg.Connection, settings: Settings, address: str = ANA,
                     program: str = "rise") -> None:
    asked = await tick_box(conn, settings, address, NOW, program=program,
                           evidence=Evidence(client_ip="198.51.100.4"))
    assert asked.mail_id is not None
    token = (await confirmation_path(conn, asked.mail_id)).rsplit("/", 1)[1]
    confirmed = await confirm(conn, RULES, token=token, now=NOW + timedelta(minutes=5),
                              client_ip="198.51.100.4")
    assert confirmed.status == "confirmed"


@pytest.mark.parametrize("statement", [
    "UPDATE address_consent_events SET wording = 'something else'",
    "UPDATE address_consent_events SET address = 'erased:0123'",
    "DELETE FROM address_consent_events",
    "TRUNCATE address_consent_events CASCADE",
])
async def test_the_ledger_refuses_every_change(pool: asyncpg.Pool, settings: Settings,
                                               statement: str) -> None:
    async with pool.acquire() as conn:
        await subscribed(conn, mailing_settings(settings))
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement)
        assert len(await address_consent.history(conn, ANA)) == 2


async def test_even_an_erasure_may_change_only_the_personal_columns(
        pool: asyncpg.Pool, settings: Settings) -> None:
    async with pool.acquire() as conn:
        await subscribed(conn, mailing_settings(settings))
        async with conn.transaction():
            await conn.execute("SET LOCAL gateway.erasing = 'on'")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute("UPDATE address_consent_events SET wording = 'x', "
                                       "address = 'erased:1', citizen_text = '', "
                                       "client_ip = NULL")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # not a pseudonym
                async with conn.transaction():
                    await conn.execute("UPDATE address_consent_events SET address = "
                                       "'someone@example.org', client_ip = NULL")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute("DELETE FROM address_consent_events")


async def test_erasure_keeps_the_proof_and_the_opt_out_as_a_hash_so_no_import_returns(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    digest = number_hash(KEY, ANA)
    async with pool.acquire() as conn:
        await subscribed(conn, settings, program="rise")
        await subscribed(conn, settings, program="ensemble")
        assert await unsubscribe(conn, address=ANA, program="ensemble",
                                 source="unsubscribe_link", now=NOW + timedelta(days=1))
        before = await address_consent.history(conn, ANA)
        async with conn.transaction():
            await conn.execute("SET LOCAL gateway.erasing = 'on'")
            rows = await address_consent.erase_address(
                conn, ANA, pseudonym=pseudonym_of(digest), address_hash=digest,
                reason="request", erased_by="dpo@example.org")
        kept = await address_consent.history(conn, pseudonym_of(digest))
        erased = await conn.fetchrow("SELECT * FROM erased_addresses")
        assert await address_consent.history(conn, ANA) == []
        assert await address_consent.subscriptions_of(conn, ANA) == []
        imported = [await tick_box(conn, settings, ANA, NOW + timedelta(days=2), program=p,
                                   source="import") for p in ("rise", "ensemble")]
        asked = await tick_box(conn, settings, ANA, NOW + timedelta(days=2))
    assert rows == {"address_consent_tokens": 2, "address_subscriptions": 2,
                    "address_consent_events": 5, "newsletter_recipients": 0}
    assert [r["kind"] for r in kept] == [r["kind"] for r in before]
    assert [r["wording"] for r in kept] == [r["wording"] for r in before]
    assert {r["client_ip"] for r in kept} == {None}
    assert (erased["address_hash"], erased["opted_out_programs"]) == (digest, ["ensemble"])
    assert ANA not in str(dict(erased))
    assert [i.outcome for i in imported] == ["suppressed", "suppressed"]
    assert asked.outcome == "queued"  # the person's own request is new consent


async def test_the_state_is_always_the_kind_of_the_last_ledger_row(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        await tick_box(conn, settings, ANA, NOW)
        pending = await address_consent.subscription(conn, ANA, "rise")
        await unsubscribe(conn, address=ANA, program="rise", source="reply", now=NOW)
        left = await address_consent.subscription(conn, ANA, "rise")
        mismatched = await conn.fetchval("""
            SELECT count(*) FROM address_subscriptions s
            JOIN address_consent_events e ON e.id = s.state_event_id
            WHERE e.id <> (SELECT max(id) FROM address_consent_events x
                           WHERE x.address = s.address AND x.program = s.program)""")
    assert pending is not None and pending.state == "pending"
    assert left is not None and left.state == "unsubscribed"
    assert mismatched == 0


async def test_the_sender_suppresses_bulk_mail_to_anyone_not_confirmed_on_its_program(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    rise = unsubscribe_url(settings, ANA, "rise")
    ensemble = unsubscribe_url(settings, ANA, "ensemble")

    async def reason(url: str | None, bulk: bool = True) -> str | None:
        return await address_consent.mail_suppression_reason(
            conn, "Ana@Example.org", bulk=bulk, unsubscribe_url=url)

    async with pool.acquire() as conn:
        assert await reason(rise) == "not_subscribed"
        await tick_box(conn, settings, ANA, NOW)
        assert await reason(rise) == "not_confirmed"
        await subscribed(conn, settings)
        assert await reason(rise) is None
        assert await reason(ensemble) == "not_subscribed"
        assert await reason(None) == "no_unsubscribe_link"
        assert await reason("https://elsewhere.example/unsubscribe/x") == "no_unsubscribe_link"
        assert await reason(None, bulk=False) is None  # answers are not consent-gated
        await unsubscribe(conn, address=ANA, program="rise", source="list_unsubscribe", now=NOW)
        assert await reason(rise) == "unsubscribed"


async def test_the_export_lists_the_ledger_and_the_states(pool: asyncpg.Pool,
                                                          settings: Settings) -> None:
    async with pool.acquire() as conn:
        await subscribed(conn, mailing_settings(settings))
        exported = await address_consent.export_address(conn, ANA)
    assert [r["kind"] for r in exported["consent"]] == ["opt_in_requested", "opt_in_confirmed"]
    assert exported["consent"][0]["client_ip"] == "198.51.100.4"
    assert [(r["program"], r["state"]) for r in exported["subscriptions"]] == [
        ("rise", "subscribed")]
