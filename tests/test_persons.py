"""One person, many addresses: verified links join, guesses never do, unmerge splits.

Real PostgreSQL; the confirmation link is followed by reading the token out
of the e-mail or SMS really queued in the outboxes, as the citizen would.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from gateway.config import Settings
from gateway.engine import load_rules
from gateway.services import persons
from gateway.services.errors import ServiceError
from gateway.services.persons.membership import join, reachable
from gateway.services.persons.texts import (
    BUILT_IN,
    PersonTextsError,
    language_on,
    load,
    program_name_on,
)
from gateway.store import persons as person_store
from gateway.store import users as user_store
from tests.support.persons import citizen_mail, sms_at, store_mail, token_in

ROOT = Path(__file__).resolve().parents[1]
NUMBER = "+15551230001"
OTHER_NUMBER = "+15551230002"
EMAIL = "ana@example.org"
OTHER_EMAIL = "ana.work@example.net"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Staff:
    user_id: int
    email: str


@pytest.fixture
async def organizer(pool: asyncpg.Pool) -> Staff:
    async with pool.acquire() as conn:
        user = await user_store.insert_user(conn, email="organizer@example.org",
                                            role="organizer", themes=(), password_hash="x")
    return Staff(user.id, user.email)


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "mail_from_address": "contact@campagne.example",
        "public_base_url": "https://act.campagne.example"})


async def asked_by_sms(conn: asyncpg.Connection, number: str = NUMBER) -> int:
    await conn.execute("INSERT INTO contacts (msisdn, shortcode) VALUES ($1, '12345')"
                       " ON CONFLICT DO NOTHING", number)
    return await sms_at(conn, number, "my email is ana@example.org", NOW - timedelta(hours=1))


async def request(conn: asyncpg.Connection, settings: Settings, known: str, claimed: str,
                  ) -> persons.LinkRequest:
    return await persons.request_link(
        conn, settings, known=known, claimed=claimed, requested_by="organizer@example.org",
        evidence={"inbound_id": 1}, language="en", program="Rise Up Alerts",
        shortcode="12345", now=NOW)


async def test_a_confirmed_link_joins_the_two_addresses(
    pool: asyncpg.Pool, mail_settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        await asked_by_sms(conn)
        sent = await request(conn, mail_settings, NUMBER, EMAIL)
        mail = await conn.fetchrow("SELECT * FROM mail_outbox WHERE id = $1", sent.mail_id)
        assert (mail["purpose"], mail["to_address"], mail["status"]) == (
            "confirmation", EMAIL, "queued")
        assert mail["dedupe_key"] == f"person-link:{sent.token_id}"
        assert "Rise Up Alerts" in mail["subject"] and "*******0001" in mail["text_body"]
        assert NUMBER not in mail["text_body"]  # the number is masked in the mail
        token = token_in(mail["text_body"])
        assert mail["text_body"].count("https://act.campagne.example/link/") == 1
        stored = await conn.fetchval("SELECT token_hash FROM person_link_tokens")
        assert token.encode() not in stored  # only its hash is kept

        looked = await persons.peek(conn, token, now=NOW + timedelta(minutes=5))
        assert looked.outcome == "valid"
        assert await persons.person_of(conn, NUMBER) is None  # looking links nothing

        done = await persons.confirm(conn, token, now=NOW + timedelta(minutes=6))
        assert done.outcome == "linked"
        assert await persons.person_of(conn, NUMBER) == done.person_id
        assert await persons.person_of(conn, EMAIL) == done.person_id
        assert await persons.verified_emails(conn, NUMBER) == [EMAIL]
        assert await persons.linked_addresses(conn, EMAIL) == [NUMBER, EMAIL]
        [link] = await person_store.links_of(conn, [NUMBER])
        assert (link.method, link.linked_by, link.evidence["token_id"]) == (
            "confirmed_link", "citizen", sent.token_id)

        again = await persons.confirm(conn, token, now=NOW + timedelta(minutes=7))
        assert again.outcome == "used"
        audit = await conn.fetchrow("SELECT actor, action, target, detail FROM audit_log")
        assert (audit["actor"], audit["action"], audit["target"]) == (
            "citizen", "person.linked", f"person:{done.person_id}")
        assert json.loads(audit["detail"])["addresses"] == [NUMBER, EMAIL]


async def test_two_clicks_at_once_link_once(pool: asyncpg.Pool, mail_settings: Settings) -> None:
    async with pool.acquire() as conn:
        sent = await request(conn, mail_settings, NUMBER, EMAIL)
        token = token_in(await conn.fetchval("SELECT text_body FROM mail_outbox WHERE id = $1",
                                             sent.mail_id))

    async def click() -> str:
        async with pool.acquire() as conn:
            return (await persons.confirm(conn, token, now=NOW)).outcome

    outcomes = await asyncio.gather(click(), click())
    assert sorted(outcomes) == ["linked", "used"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM person_links") == 1


async def test_the_link_can_go_by_sms_to_a_number(pool: asyncpg.Pool, settings: Settings
                                                  ) -> None:
    async with pool.acquire() as conn:
        await store_mail(conn, citizen_mail(EMAIL, "Hello", "Text me at +15551230001"),
                         envelope_from=EMAIL)
        sent = await request(conn, settings, EMAIL, NUMBER)
        assert (sent.channel, sent.mail_id) == ("sms", None)
        sms = await conn.fetchrow("SELECT msisdn, body, status FROM outbound WHERE id = $1",
                                  sent.outbound_id)
        assert (sms["msisdn"], sms["status"]) == (NUMBER, "queued")
        assert "a…@example.org" in sms["body"]
        done = await persons.confirm(conn, token_in(sms["body"]), now=NOW)
        assert done.outcome == "linked"
        assert await persons.person_of(conn, NUMBER) == await persons.person_of(conn, EMAIL)


async def test_an_expired_or_unknown_link_links_nothing(
    pool: asyncpg.Pool, mail_settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        sent = await request(conn, mail_settings, NUMBER, EMAIL)
        body = await conn.fetchval("SELECT text_body FROM mail_outbox WHERE id = $1",
                                   sent.mail_id)
        late = NOW + timedelta(hours=mail_settings.persons_link_hours)
        assert (await persons.confirm(conn, token_in(body), now=late)).outcome == "expired"
        assert (await persons.confirm(conn, "made-up", now=NOW)).outcome == "unknown"
        assert (await persons.confirm(conn, token_in(body)[:-1], now=NOW)).outcome == "unknown"
        assert await conn.fetchval("SELECT count(*) FROM person_addresses") == 0
        assert await conn.fetchval("SELECT used_at FROM person_link_tokens") is None


async def test_no_mail_is_promised_without_a_from_address(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(ServiceError) as refused:
            await request(conn, settings, NUMBER, EMAIL)
        assert refused.value.code == "mail_not_configured"
        assert await conn.fetchval("SELECT count(*) FROM person_link_tokens") == 0


async def test_a_guess_never_links(pool: asyncpg.Pool, mail_settings: Settings) -> None:
    """Same name, same postal code, the number written in the mail: still two strangers."""
    profile = json.dumps({"v": 1, "profile": {"first_name": "Ana", "zip": "10001"}})
    async with pool.acquire() as conn:
        for number in (NUMBER, OTHER_NUMBER):
            await conn.execute("INSERT INTO contacts (msisdn, shortcode, state, zip)"
                               " VALUES ($1, '12345', $2::jsonb, '10001')", number, profile)
        await store_mail(conn, citizen_mail(EMAIL, "Ana, 10001", f"It's Ana, {NUMBER}",
                                            name="Ana"), envelope_from=EMAIL)
        await request(conn, mail_settings, NUMBER, EMAIL)  # asked, never followed
        assert await conn.fetchval("SELECT count(*) FROM person_addresses") == 0
        assert await conn.fetchval("SELECT count(*) FROM person_links") == 0
        for address in (NUMBER, OTHER_NUMBER, EMAIL):
            assert await persons.linked_addresses(conn, address) == [address]
        assert await persons.verified_emails(conn, NUMBER) == []


async def test_a_staff_merge_needs_a_reason_a_confirmation_and_known_addresses(
    pool: asyncpg.Pool, organizer: Staff,
) -> None:
    async with pool.acquire() as conn:
        await asked_by_sms(conn)
        await store_mail(conn, citizen_mail(EMAIL.upper(), "Hi", "hello"), envelope_from=EMAIL)

    async def merge(other: str, reason: str = "she called and gave both",
                    confirmed: bool = True) -> persons.Merged:
        return await persons.merge(pool, organizer, client="192.0.2.1", address=NUMBER,
                                   other_raw=other, reason=reason, confirmed=confirmed,
                                   now=NOW)

    refusals = {
        "other": [("not an address", True), ("typo@exmaple.org", True), ("5551230002", True),
                  (NUMBER, True)],
        "reason": [(EMAIL, True)],
        "confirm": [(EMAIL, False)],
    }
    for field, cases in refusals.items():
        for other, confirmed in cases:
            with pytest.raises(ServiceError) as refused:
                await merge(other, "same" if field == "reason" else "she called and gave both",
                            confirmed)
            assert (refused.value.status, refused.value.field) == (400, field), other
    merged = await merge(" Ana@Example.ORG ")  # compared in its normalized form
    assert merged.other == EMAIL
    with pytest.raises(ServiceError) as twice:
        await merge(EMAIL)
    assert twice.value.status == 409
    async with pool.acquire() as conn:
        assert await persons.linked_addresses(conn, NUMBER) == [NUMBER, EMAIL]
        entry = await conn.fetchrow("SELECT * FROM audit_log WHERE action = 'person.merged'")
        detail = json.loads(entry["detail"])
        assert (entry["actor"], entry["actor_id"], entry["client"]) == (
            organizer.email, organizer.user_id, "192.0.2.1")
        assert (detail["addresses"], detail["reason"]) == ([NUMBER, EMAIL],
                                                           "she called and gave both")
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1  # refusals: none


async def test_unmerge_splits_the_person_where_the_wrong_link_was(
    pool: asyncpg.Pool, organizer: Staff,
) -> None:
    """NUMBER - EMAIL (a confirmed link), EMAIL - OTHER_NUMBER (a wrong merge): undoing the
    merge leaves the first pair a person and the other number alone."""
    async with pool.acquire() as conn:
        first = await person_store_join(conn, NUMBER, EMAIL, "confirmed_link")
        wrong = await person_store_join(conn, EMAIL, OTHER_NUMBER, "expert_merge")
        assert wrong.person_id == first.person_id
        assert len(await persons.linked_addresses(conn, NUMBER)) == 3
    split = await persons.unmerge(pool, organizer, client="c", address=NUMBER,
                                  link_id=wrong.link_id, reason="another Ana", now=NOW)
    assert (split.person_id, split.kept, split.other_person_id, split.other) == (
        first.person_id, (EMAIL, NUMBER), None, (OTHER_NUMBER,))
    async with pool.acquire() as conn:
        assert await persons.linked_addresses(conn, NUMBER) == [NUMBER, EMAIL]
        assert await persons.person_of(conn, OTHER_NUMBER) is None
        undone = await person_store.get_link(conn, wrong.link_id)
        assert undone is not None
        assert (undone.unlinked_by, undone.unlink_reason) == (organizer.email, "another Ana")
        entry = json.loads(await conn.fetchval(
            "SELECT detail FROM audit_log WHERE action = 'person.unmerged'"))
        assert (entry["link_id"], entry["other"]) == (wrong.link_id, [OTHER_NUMBER])
    with pytest.raises(ServiceError) as again:
        await persons.unmerge(pool, organizer, client="c", address=NUMBER,
                              link_id=wrong.link_id, reason="twice", now=NOW)
    assert (again.value.status, again.value.message) == (
        409, f"link {wrong.link_id} was already undone")


async def test_joining_two_persons_and_undoing_it_gives_both_back(
    pool: asyncpg.Pool, organizer: Staff,
) -> None:
    async with pool.acquire() as conn:
        one = await person_store_join(conn, NUMBER, EMAIL, "confirmed_link")
        two = await person_store_join(conn, OTHER_NUMBER, OTHER_EMAIL, "both_channels")
        fused = await person_store_join(conn, EMAIL, OTHER_EMAIL, "expert_merge")
        assert fused.person_id == min(one.person_id, two.person_id)
        assert sorted(await persons.linked_addresses(conn, NUMBER)) == sorted(
            [NUMBER, EMAIL, OTHER_NUMBER, OTHER_EMAIL])
        assert await conn.fetchval("SELECT count(*) FROM persons") == 1
    split = await persons.unmerge(pool, organizer, client="c", address=NUMBER,
                                  link_id=fused.link_id, reason="two different Anas", now=NOW)
    assert split.other_person_id is not None
    async with pool.acquire() as conn:
        assert await persons.linked_addresses(conn, NUMBER) == [NUMBER, EMAIL]
        assert await persons.linked_addresses(conn, OTHER_EMAIL) == [OTHER_NUMBER, OTHER_EMAIL]


async def test_both_channels_needs_the_mo_from_that_number(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        mo = await asked_by_sms(conn)
        strangers = await sms_at(conn, OTHER_NUMBER, "JOIN", NOW)
        with pytest.raises(ValueError, match="did not come from"):
            await persons.link_both_channels(conn, number=NUMBER, email=EMAIL,
                                             sms_inbound_id=strangers,
                                             email_evidence={"email_consent_id": 3}, now=NOW)
        with pytest.raises(ValueError, match="email_evidence"):
            await persons.link_both_channels(conn, number=NUMBER, email=EMAIL,
                                             sms_inbound_id=mo, email_evidence={}, now=NOW)
        with pytest.raises(ValueError, match="normalize"):
            await persons.link_both_channels(conn, number=NUMBER, email="Ana@Example.org",
                                             sms_inbound_id=mo,
                                             email_evidence={"email_consent_id": 3}, now=NOW)
        assert await conn.fetchval("SELECT count(*) FROM person_links") == 0
        joined = await persons.link_both_channels(
            conn, number=NUMBER, email=EMAIL, sms_inbound_id=mo,
            email_evidence={"email_consent_id": 3}, now=NOW)
        [link] = await person_store.links_of(conn, [EMAIL])
        assert (link.id, link.method, dict(link.evidence)) == (
            joined.link_id, "both_channels", {"sms_inbound_id": mo, "email_consent_id": 3})


def test_reachable_walks_a_tree_of_links() -> None:
    def link(a: str, b: str) -> person_store.Link:
        return person_store.Link(0, a, b, "expert_merge", {}, "x", "r", NOW, None, None, None)

    links = [link("a", "b"), link("b", "c"), link("d", "c"), link("x", "y")]
    assert reachable("a", links) == ("a", "b", "c", "d")
    assert reachable("y", links) == ("y", "x")
    assert reachable("z", links) == ("z",)


def test_texts_are_complete_and_a_broken_file_says_where(tmp_path: Path) -> None:
    built_in = load(BUILT_IN)
    assert set(built_in) == {"fr", "en"} and built_in["fr"]["page_button"].startswith("Oui")
    rules = load_rules(ROOT / "keywords.yaml")
    assert (language_on(rules, "38200"), language_on(rules, "12345")) == ("fr", "en")
    assert program_name_on(rules, "12345") == "Rise Up Alerts"
    broken = tmp_path / "texts.toml"
    broken.write_text(BUILT_IN.read_text(encoding="utf-8").replace(
        'page_used = "Ce lien', 'page_usd = "Ce lien'), encoding="utf-8")
    with pytest.raises(PersonTextsError, match=r"\[fr\] page_used is missing"):
        load(broken)
    broken.write_text(BUILT_IN.read_text(encoding="utf-8").replace("\n{url}\n", "{link}", 1),
                      encoding="utf-8")
    with pytest.raises(PersonTextsError, match=r"\[en\] mail_body: unknown placeholder"):
        load(broken)


async def person_store_join(conn: asyncpg.Connection, a: str, b: str,
                            method: person_store.LinkMethod) -> persons.Joined:
    return await join(conn, a, b, method=method, evidence={"test": True}, linked_by="test",
                      reason="test reason", now=NOW)
