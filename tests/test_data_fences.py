"""The data fences (gateway/services/fences.py) over real HTTP and PostgreSQL.

An education-only expert opening their own question must not see the same
contact's question of another theme, their donations or their donor details;
an organizer sees the contact's history but not the donor's name or street
address; an admin sees everything. Questions are asked through the real
engine and store (tests/test_questions_store.py); the donor-details answer
and its event are written through the store as the pipeline writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from gateway.services.fences import WITHHELD
from gateway.store import inbound as inbound_store
from gateway.store import timeline
from gateway.store.inbound import NewInbound
from tests.support.questions import asked
from tests.support.webapi import WebApi

NUMBER = "+33600000101"
EDU_TEXT = "Quand rouvrira le lycée de ma ville ?"
SEC_TEXT = "La police ne vient jamais dans mon quartier, pourquoi ?"
NAME = "Ada Lovelace"
STREET = "12 rue de la Paix, 75002 Paris"
LINK = "https://give.example.org/give/details/Zk3-secret_token"


async def donor_history(pool: asyncpg.Pool, msisdn: str, shortcode: str, at: datetime) -> None:
    """A gift asked, its details text (with the form's link) and two SMS answers with the
    donor's name and street address, as the pipeline and the billing service leave them."""
    async with pool.acquire() as conn:
        ids = await inbound_store.IdReserve("inbound_id_seq", block=3).take(conn, 3)
        texts = ["DON 250", NAME, STREET]
        await inbound_store.insert_batch(conn, [
            NewInbound(msisdn, shortcode, text, 0, 1, at + timedelta(minutes=i))
            for i, text in enumerate(texts)], ids)
        await conn.execute(
            "INSERT INTO outbound (msisdn, shortcode, body) VALUES ($1, $2, $3)",
            msisdn, shortcode, f"Merci ! Vos informations : {LINK} Ou répondez ici.")
        await timeline.insert_batch(conn, [
            timeline.NewEvent(msisdn, shortcode, ids[0], "donation_requested",
                              {"donation_ref": ids[0], "amount_cents": 25000}, at),
            timeline.NewEvent(msisdn, shortcode, ids[1], "donor_details_given",
                              {"field": "name", "values": {"name": NAME}, "mo_id": ids[1]},
                              at + timedelta(minutes=1)),
            timeline.NewEvent(msisdn, shortcode, ids[2], "donor_details_unreadable",
                              {"field": "address", "problem": "region", "mo_id": ids[2]},
                              at + timedelta(minutes=2))])


def text_of(document: Any) -> str:
    return repr(document)


async def test_an_education_expert_sees_only_their_questions_thread(site: WebApi) -> None:
    web = site
    now = datetime.now(UTC)
    security = await asked(web.pool, NUMBER, SEC_TEXT, now - timedelta(days=2))
    await donor_history(web.pool, NUMBER, "38200", now - timedelta(days=1))
    education = await asked(web.pool, NUMBER, EDU_TEXT, now)
    expert = await web.staff("expert", email="edu@example.org", themes=("education",))

    response = await web.client.get(f"/api/v1/inbox/questions/{education}",
                                    headers=expert.bearer)
    detail = await response.json()
    assert response.status == 200, detail
    shown = text_of(detail)
    for secret in (SEC_TEXT, "securite", NAME, STREET, "DON 250", "donation_requested",
                   "donor_details", "Zk3-secret_token"):
        assert secret not in shown, secret
    assert [q["id"] for q in detail["questions"]] == [education]
    kinds = [(t["kind"], t["body"]) for t in detail["timeline"]]
    assert kinds[:2] == [("mo", EDU_TEXT), ("event", "question_asked")]
    assert {k for k, _ in kinds} == {"mo", "event", "mt"}  # the acknowledgement is there
    assert all(t["data"]["question_id"] == education for t in detail["timeline"]
               if t["kind"] == "event" and "question_id" in (t["data"] or {}))

    page = await web.client.get(f"/inbox/questions/{education}", headers=expert.bearer)
    html = await page.text()
    assert page.status == 200 and EDU_TEXT in html
    for secret in (SEC_TEXT, NAME, STREET, "DON 250", "donation_requested"):
        assert secret not in html, secret

    # the thread grows with the answer; the other theme still does not show
    assert (await web.client.post(f"/api/v1/inbox/questions/{education}/answer",
                                  headers=expert.bearer,
                                  json={"text": "En septembre."})).status == 200
    after = await (await web.client.get(f"/api/v1/inbox/questions/{education}",
                                        headers=expert.bearer)).json()
    assert "En septembre." in after["timeline"][-1]["body"]
    assert SEC_TEXT not in text_of(after)

    admin = await web.staff("admin")
    whole = await (await web.client.get(f"/api/v1/inbox/questions/{education}",
                                        headers=admin.bearer)).json()
    assert {q["id"] for q in whole["questions"]} == {education, security}
    everything = text_of(whole)
    assert SEC_TEXT in everything and NAME in everything and "Zk3-secret_token" in everything


async def test_an_organizer_sees_the_history_without_the_donors_identity(
    site: WebApi,
) -> None:
    shortcode = site.settings.shortcode
    await site.pool.execute("INSERT INTO contacts (msisdn, shortcode, state) VALUES"
                            " ($1, $2, '{}'::jsonb)", NUMBER, shortcode)
    await donor_history(site.pool, NUMBER, shortcode, datetime.now(UTC))
    organizer = await site.staff("organizer")
    response = await site.client.get(f"/api/v1/contacts/{NUMBER}/timeline",
                                     headers=organizer.bearer)
    body = await response.json()
    assert response.status == 200, body
    shown = text_of(body)
    assert NAME not in shown and STREET not in shown and "Zk3-secret_token" not in shown
    items = body["timeline"]
    assert [t["body"] for t in items if t["kind"] == "mo"] == ["DON 250", WITHHELD, WITHHELD]
    assert "donation_requested" in shown  # the history itself is there
    [given] = [t for t in items if t["body"] == "donor_details_given"]
    assert given["data"] == {"field": "name", "mo_id": given["data"]["mo_id"],
                             "withheld": "donor_details"}

    page = await site.client.get(f"/contacts/{NUMBER}", headers=organizer.bearer)
    html = await page.text()
    assert page.status == 200 and NAME not in html and STREET not in html
    assert "Zk3-secret_token" not in html and "DON 250" in html

    admin = await site.staff("admin")
    full = text_of(await (await site.client.get(f"/api/v1/contacts/{NUMBER}/timeline",
                                                headers=admin.bearer)).json())
    assert NAME in full and STREET in full and "Zk3-secret_token" in full
