"""The same citizen confirming on both channels: a form post names an e-mail address and a
mobile; the mobile texts the program's keyword; the e-mail's confirmation link is pressed.
The two are then one person (method both_channels), with the post and both ledger rows as
evidence. A number that had joined before the post is not linked: anyone can type a
subscriber's number into a form.

Real pieces throughout: the form /write over HTTP, the SMS path's decision writer for the
keyword, the public confirmation page on a real socket, PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.config import Settings
from gateway.services import persons
from tests.support.clock import ManualClock
from tests.support.email_consent import confirmation_path, mailing_settings, public_pages
from tests.support.questions import Supporter
from tests.support.write_site import form_settings, write_site

EMAIL = "lea@example.fr"
MOBILE = "+33612345678"
POST = {"theme": "sante", "message": "Les urgences ferment la nuit : pourquoi ?",
        "name": "Léa", "email": "Lea@Example.fr", "mobile": "+33 6 12 34 56 78",
        "campaign_box": "yes"}


async def post_then_confirm(pool: asyncpg.Pool, settings: Settings, *,
                            keyword_at: datetime) -> None:
    """The form is posted two hours ago, the keyword texted at `keyword_at`, then the
    e-mail's confirmation button is pressed now."""
    now = datetime.now(UTC)
    async with write_site(pool, settings) as form:
        form.clock.set(now - timedelta(hours=2))
        assert (await form.post(POST))[0] == 200
    await Supporter(pool, MOBILE).text("ADHERER", at=keyword_at)
    async with pool.acquire() as conn:
        mail_id = await conn.fetchval(
            "SELECT id FROM mail_outbox WHERE purpose = 'confirmation'")
        link = await confirmation_path(conn, mail_id)
    async with public_pages(pool, settings, ManualClock(now)) as client:
        pressed = await client.post(link)
        assert pressed.status == 200, await pressed.text()


async def test_a_form_posts_address_and_mobile_both_saying_yes_become_one_person(
        pool: asyncpg.Pool, settings: Settings) -> None:
    await post_then_confirm(pool, mailing_settings(form_settings(settings)),
                            keyword_at=datetime.now(UTC) - timedelta(hours=1))
    async with pool.acquire() as conn:
        assert await persons.linked_addresses(conn, EMAIL) == [MOBILE, EMAIL]
        link = await conn.fetchrow("SELECT method, linked_by, evidence::text AS evidence "
                                   "FROM person_links")
        post_id = await conn.fetchval("SELECT id FROM web_messages")
        sms = await conn.fetchrow("SELECT id, inbound_id FROM consent_events "
                                  "WHERE kind = 'opt_in_confirmed'")
        confirmed = await conn.fetchval("SELECT id FROM address_consent_events "
                                        "WHERE kind = 'opt_in_confirmed'")
        audited = await conn.fetchval("SELECT detail::text FROM audit_log "
                                      "WHERE action = 'person.linked'")
    assert (link["method"], link["linked_by"]) == ("both_channels", "citizen")
    assert json.loads(link["evidence"]) == {
        "sms_inbound_id": sms["inbound_id"], "sms_consent_id": sms["id"],
        "web_message_id": post_id, "email_consent_id": confirmed}
    assert json.loads(audited)["addresses"] == [MOBILE, EMAIL]


async def test_a_number_that_joined_before_the_form_post_is_not_linked(
        pool: asyncpg.Pool, settings: Settings) -> None:
    await post_then_confirm(pool, mailing_settings(form_settings(settings)),
                            keyword_at=datetime.now(UTC) - timedelta(days=3))
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM consent_events "
                                   "WHERE kind = 'opt_in_confirmed'") == 1
        assert await conn.fetchval("SELECT count(*) FROM address_consent_events "
                                   "WHERE kind = 'opt_in_confirmed'") == 1  # e-mail confirmed
        assert await conn.fetchval("SELECT count(*) FROM person_links") == 0
