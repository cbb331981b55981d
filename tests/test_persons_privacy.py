"""Privacy rights over a person: the export lists every address, erasure removes every one.

The SMS side is a real history over SMPP (JOIN, Y, STOP through the running
gateway); the e-mail side is mail stored as the intake stores it (an
attachment, a bounce, someone else's message copying the citizen) and mail
queued in the e-mail outbox. The two are joined by the citizen following a
confirmation link. Then: one export holds both channels; one erasure leaves
no trace of either address anywhere (text, JSON, arrays or raw bytes) and
keeps the SMS opt-out as a keyed hash.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import SecretStr

from gateway.app import Gateway
from gateway.config import Settings
from gateway.outgoing_mail import OutgoingMail
from gateway.privacy import rights
from gateway.privacy.pseudonym import email_pseudonym, number_hash
from gateway.services import persons
from gateway.smpp.simulator import SmscSimulator
from gateway.store import mail_outbox
from gateway.store import privacy as privacy_store
from tests.support.e2e import Phone, gateway_settings, running_gateway, stop_gateway
from tests.support.mail_messages import dsn
from tests.support.persons import citizen_mail, email_traces, store_mail, token_in
from tests.support.privacy import traces

NUMBER = "+15551230001"
BYSTANDER = "+15551230002"
EMAIL = "ana@example.org"
FRIEND = "bob@example.net"
KEY = "test-privacy-key"
PDF = b"%PDF-1.4 tract " * 20


@pytest.fixture
def private_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "privacy_hash_secret": SecretStr(KEY), "mail_from_address": "contact@campagne.example",
        "public_base_url": "https://act.campagne.example"})


@pytest.fixture
async def gateway(private_settings: Settings, smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    gw = await running_gateway(gateway_settings(private_settings, smsc), smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


async def test_every_table_with_an_e_mail_address_is_covered(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        columns = await privacy_store.address_columns(conn)
    tables = {table for table, _ in columns}
    assert {"mail_inbound", "mail_outbox", "person_addresses"} <= tables
    unlisted = sorted(tables - set(privacy_store.EMAIL_TABLES)
                      - set(privacy_store.NOT_CITIZEN_ADDRESSES))
    assert unlisted == [], f"add these tables to store/privacy.py EMAIL_TABLES: {unlisted}"
    export_or_erase = set(privacy_store.EMAIL_TABLES) - {"person_links", "person_link_tokens",
                                                         "person_addresses"} \
        - privacy_store.ERASED_WITH_CONSENT
    steps = {name for name, _ in privacy_store.EMAIL_ERASE_STEPS}
    assert export_or_erase <= steps, "every e-mail table needs an erasure step of its owner"


async def history(gw: Gateway, smsc: SmscSimulator, settings: Settings) -> None:
    """SMS: join, confirm, stop. E-mail: a question with a tract attached, a friend's mail
    copying the citizen, a bounce, an answer waiting. Then the citizen links the two."""
    phone = Phone(smsc, NUMBER)
    await phone.text("JOIN", expect=1)
    await phone.text("Y", expect=2)
    await Phone(smsc, BYSTANDER).text("JOIN", expect=1)
    await phone.text("STOP", expect=1)
    async with gw.pool.acquire() as conn:
        await store_mail(conn, citizen_mail("Ana@Example.ORG", "Une question", "Bonjour, ...",
                                            attachment=PDF), envelope_from="ana@example.org")
        await store_mail(conn, citizen_mail(FRIEND, "Pour Ana", "Write to Ana@Example.org too",
                                            name="Bob", cc="Ana <ana@example.org>"),
                         envelope_from=FRIEND)
        await store_mail(conn, dsn(recipient="Ana@Example.org"), envelope_from="")
        await mail_outbox.enqueue(conn, OutgoingMail(
            purpose="answer", from_address="contact@campagne.example", to_address=EMAIL,
            to_name="Ana", subject="Votre question", text_body="Merci Ana ...",
            dedupe_key=f"answer:{EMAIL}"), message_id="<a1@campagne.example>")
        sent = await persons.request_link(
            conn, settings, known=NUMBER, claimed=EMAIL, requested_by="organizer@example.org",
            evidence={}, language="en", program="Rise Up Alerts", shortcode="12345",
            now=datetime.now(UTC))
        body = await conn.fetchval("SELECT text_body FROM mail_outbox WHERE id = $1",
                                   sent.mail_id)
        linked = await persons.confirm(conn, token_in(body), now=datetime.now(UTC))
        assert linked.outcome == "linked"


async def test_export_lists_every_address_and_erasure_removes_them_all(
    gateway: Gateway, smsc: SmscSimulator, private_settings: Settings,
) -> None:
    await history(gateway, smsc, private_settings)
    now = datetime.now(UTC)
    async with gateway.pool.acquire() as conn:
        document = await rights.export(conn, "Ana@Example.org", by="dpo", now=now,
                                       settings=private_settings)
        json.dumps(document)
        assert (document["address"], document["number"]) == (EMAIL, None)
        assert document["addresses"] == [NUMBER, EMAIL]
        assert {"JOIN", "Y", "STOP"} <= {m["body"] for m in document["messages_received"]}
        assert {m["msisdn"] for m in document["messages_received"]} == {NUMBER}
        assert [c["kind"] for c in document["consent"]][-1] == "opted_out"
        [question] = document["mail_received"]
        assert (question["address"], question["subject"]) == (EMAIL, "Une question")
        assert question["text_body"].startswith("Bonjour")
        assert [(a["filename"], a["size"]) for a in question["attachments"]] == [
            ("tract.pdf", len(PDF))]
        assert any(h[0] == "Subject" for h in question["headers"])
        assert [b["kind"] for b in document["mail_bounces"]] == ["bounce"]
        assert sorted(m["purpose"] for m in document["mail_sent"]) == ["answer", "confirmation"]
        person = document["person"]
        assert [a["address"] for a in person["addresses"]] == [NUMBER, EMAIL]
        assert [k["method"] for k in person["links"]] == ["confirmed_link"]
        by_number = await rights.export(conn, NUMBER, by="dpo", now=now,
                                        settings=private_settings)
        assert by_number["addresses"] == [NUMBER, EMAIL]
        assert len(by_number["mail_received"]) == 1

        before = await email_traces(conn, EMAIL)  # the detector sees bytes, any case
        assert {"mail_inbound.raw", "mail_inbound.cc_addresses", "mail_outbox.to_address",
                "person_addresses.address", "audit_log.detail"} <= set(before)
        report = await rights.erase(conn, NUMBER, by="dpo", settings=private_settings)

        assert await traces(conn, NUMBER) == []
        assert await email_traces(conn, EMAIL) == []
        digest = number_hash(KEY.encode(), NUMBER)
        assert report.kept_opt_out_for == (private_settings.shortcode,)
        assert await conn.fetchval(
            "SELECT opted_out FROM erased_numbers WHERE number_hash = $1", digest) is True
        assert report.linked_pseudonyms == (email_pseudonym(number_hash(KEY.encode(), EMAIL)),)
        # the tract, and the bounce's two report parts; her question and the bounce
        assert (report.rows["mail_attachments"], report.rows["mail_inbound"]) == (3, 2)
        assert report.rows["mail_outbox_suppressed"] == 2
        assert await conn.fetchval("SELECT count(*) FROM mail_inbound") == 3  # rows stay
        friend = await conn.fetchrow(
            "SELECT text_body, cc_addresses FROM mail_inbound WHERE lower(from_address) = $1",
            FRIEND)
        pseudonym = report.linked_pseudonyms[0]
        assert friend["text_body"].strip() == f"Write to {pseudonym} too"
        assert friend["cc_addresses"] == [pseudonym]
        statuses = {r["status"] for r in await conn.fetch("SELECT status FROM mail_outbox")}
        assert statuses == {"suppressed"}
        for table in ("persons", "person_addresses", "person_links", "person_link_tokens"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
        erased = await conn.fetch(
            "SELECT target, detail FROM audit_log WHERE action = 'privacy.erased' ORDER BY id")
        assert [json.loads(e["detail"])["channel"] for e in erased] == ["sms", "email"]
        assert await conn.fetchval(
            "SELECT count(*) FROM inbound WHERE msisdn = $1", BYSTANDER) >= 1

        again = await rights.erase(conn, EMAIL, by="dpo", settings=private_settings)
        assert sum(again.rows.values()) == 0
        empty = await rights.export(conn, EMAIL, by="dpo", now=now, settings=private_settings)
        assert empty["person"] is None
        assert all(empty[name] == [] for name in privacy_store.EMAIL_EXPORT_QUERIES)

    # the kept hash still works: the number comes back opted out
    assert await Phone(smsc, NUMBER).text("hello again", expect=0) == []


async def test_a_number_is_idle_only_when_its_whole_person_is(
    pool: asyncpg.Pool, private_settings: Settings,
) -> None:
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=private_settings.privacy_retention_days + 1)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO contacts (msisdn, shortcode, updated_at)"
                           " VALUES ($1, '12345', $2)", NUMBER, long_ago)
        await store_mail(conn, citizen_mail(EMAIL, "Still here", "hello"),
                         envelope_from=EMAIL)
        assert [m for m, _ in await rights.idle_contacts(
            conn, settings=private_settings, now=now)] == [NUMBER]
        mo = await conn.fetchval(
            "INSERT INTO inbound (msisdn, shortcode, body, received_at)"
            " VALUES ($1, '12345', 'JOIN', $2) RETURNING id", NUMBER, long_ago)
        await persons.link_both_channels(conn, number=NUMBER, email=EMAIL, sms_inbound_id=mo,
                                         email_evidence={"email_consent_id": 1}, now=now)
        assert await rights.idle_contacts(conn, settings=private_settings, now=now) == []


async def test_the_export_by_a_number_that_is_no_person_keeps_its_shape(
    pool: asyncpg.Pool, private_settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO contacts (msisdn, shortcode) VALUES ($1, '12345')",
                           NUMBER)
        document = await rights.export(conn, NUMBER, by="dpo", now=datetime.now(UTC),
                                       settings=private_settings)
    assert (document["number"], document["addresses"], document["person"]) == (
        NUMBER, [NUMBER], None)
    assert [c["msisdn"] for c in document["contacts"]] == [NUMBER]
    assert document["mail_received"] == [] and document["mail_sent"] == []


def test_a_bad_address_is_refused_before_anything_runs() -> None:
    with pytest.raises(rights.PrivacyError, match="no usable domain"):
        rights.normalize("ana@localhost")
    assert rights.normalize(" Ana@Example.ORG ") == EMAIL


async def test_an_address_that_only_wrote_ages_out_as_a_number_does(
    pool: asyncpg.Pool, private_settings: Settings,
) -> None:
    """A citizen who only ever e-mailed has no number, yet retention must reach them: listed
    once their last mail is older than the period, erased without a trace by --apply; a
    recent writer stays, and so does an old one whose person texted lately."""
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=private_settings.privacy_retention_days + 1)
    async with pool.acquire() as conn:
        old = await store_mail(conn, citizen_mail(EMAIL, "Old", "hello"), envelope_from=EMAIL)
        await store_mail(conn, citizen_mail(FRIEND, "New", "hi", name="Bob"),
                         envelope_from=FRIEND)
        await conn.execute("UPDATE mail_inbound SET received_at = $2 WHERE id = $1",
                           old, long_ago)
        listed = await rights.idle_contacts(conn, settings=private_settings, now=now)
        assert [address for address, _ in listed] == [EMAIL]

        erased = await rights.apply_retention(conn, settings=private_settings, now=now)
        assert len(erased) == 1
        assert await email_traces(conn, EMAIL) == []
        assert await email_traces(conn, FRIEND) != []
        assert await rights.idle_contacts(conn, settings=private_settings, now=now) == []


async def test_an_old_address_of_a_person_active_by_text_is_not_idle(
    pool: asyncpg.Pool, private_settings: Settings,
) -> None:
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=private_settings.privacy_retention_days + 1)
    async with pool.acquire() as conn:
        old = await store_mail(conn, citizen_mail(EMAIL, "Old", "hello"), envelope_from=EMAIL)
        await conn.execute("UPDATE mail_inbound SET received_at = $2 WHERE id = $1",
                           old, long_ago)
        mo = await conn.fetchval(
            "INSERT INTO inbound (msisdn, shortcode, body, received_at)"
            " VALUES ($1, '12345', 'JOIN', $2) RETURNING id", NUMBER, now)
        await conn.execute("INSERT INTO contacts (msisdn, shortcode, updated_at)"
                           " VALUES ($1, '12345', $2)", NUMBER, now)
        await persons.link_both_channels(conn, number=NUMBER, email=EMAIL, sms_inbound_id=mo,
                                         email_evidence={"email_consent_id": 1},
                                         now=long_ago)
        assert await rights.idle_contacts(conn, settings=private_settings, now=now) == []
