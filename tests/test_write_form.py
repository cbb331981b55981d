"""The public form /write over HTTP: stored before the thanks, taken in like an e-mail, the
campaign box recorded and, ticked with an address, turned into a request for a
confirmation (double opt-in) and nothing more; spam refused without a third party.

The real handlers on aiohttp's test server and a real PostgreSQL; the clock is the
test's, so the minimum fill time passes by a statement. The browser test is
tests/test_write_form_browser.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import SecretStr

from gateway.config import Settings
from gateway.email_consent import may_send_bulk
from gateway.privacy import rights
from tests.support.write_site import SHOWN_AT, WriteSite, form_settings, write_site

QUESTION = {"theme": "sante", "message": "Les urgences de Besançon ferment la nuit : pourquoi ?",
            "name": "Renée Dupré", "email": "Renee@Example.FR"}
BOX_FR = ("Je souhaite recevoir des informations sur la campagne d'Ensemble Citoyen par "
          "e-mail. Je peux me désabonner à tout moment.")


@pytest.fixture
async def site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WriteSite]:
    async with write_site(pool, form_settings(settings, write_form_per_address_per_hour=2)
                          ) as found:
        yield found


async def rows(pool: asyncpg.Pool, table: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(f"SELECT * FROM {table} ORDER BY 1"))


async def test_a_post_is_stored_opens_a_question_in_its_theme_and_is_acknowledged_by_mail(
        site: WriteSite) -> None:
    status, page = await site.post(QUESTION)
    assert status == 200
    assert "Votre message est bien arrivé" in page

    [post] = await rows(site.pool, "web_messages")
    assert (post["program"], post["language"], post["theme"], post["email"]) == (
        "ensemble", "fr", "sante", "renee@example.fr")
    assert (post["name"], post["msisdn"], post["route"]) == ("Renée Dupré", None, "question")
    assert (post["campaign_box"], post["box_wording"], post["box_version"]) == (
        False, BOX_FR, "form-2024-03")  # what was shown, though not ticked
    [question] = await rows(site.pool, "questions")
    assert (question["channel"], question["theme"], question["via"]) == ("web", "sante", "form")
    assert question["web_message_id"] == post["id"] and question["body"] == QUESTION["message"]
    [ack] = await rows(site.pool, "mail_outbox")
    assert (ack["purpose"], ack["to_address"], ack["question_id"]) == (
        "acknowledgement", "renee@example.fr", question["id"])
    assert ack["subject"] == "Ensemble Citoyen : votre question (Santé) est bien arrivée"
    assert "sous 2 jours" in ack["text_body"] and ack["in_reply_to"] is None
    assert ack["dedupe_key"] == f"route:web:{post['id']}:acknowledgement"


async def test_a_mobile_number_alone_is_acknowledged_by_sms_from_the_programs_code(
        site: WriteSite) -> None:
    status, page = await site.post({**QUESTION, "email": "", "mobile": "06 12 34 56 78"})
    assert status == 200 and "la réponse par SMS" in page
    [question] = await rows(site.pool, "questions")
    assert (question["msisdn"], question["shortcode"], question["email"]) == (
        "+33612345678", "38200", None)
    [sms] = await rows(site.pool, "outbound")
    assert (sms["msisdn"], sms["shortcode"]) == ("+33612345678", "38200")
    assert sms["body"].startswith("Ensemble Citoyen : merci ! Votre question (Santé)")
    assert await rows(site.pool, "mail_outbox") == []


async def test_a_missing_theme_is_said_next_to_it_and_what_was_typed_stays(
        site: WriteSite) -> None:
    status, page = await site.post({**QUESTION, "theme": ""})
    assert status == 400
    assert '<span class="error" id="theme-error">Choisissez un thème dans la liste.</span>' \
        in page
    assert 'aria-describedby="theme-error"' in page
    assert "Les urgences de Besançon ferment la nuit : pourquoi ?</textarea>" in page
    assert 'value="Renee@Example.FR"' in page
    assert await rows(site.pool, "web_messages") == []


async def test_each_wrong_field_gets_its_own_sentence(site: WriteSite) -> None:
    status, page = await site.post({"theme": "nope", "message": " ", "email": "renee@",
                                    "mobile": "12"})
    assert status == 400
    for sentence in ("Choisissez un thème dans la liste.", "Écrivez votre message.",
                     "Cette adresse e-mail n&#39;est pas valide : vérifiez-la.",
                     "Ce numéro de mobile n&#39;est pas valide"):
        assert sentence in page
    status, page = await site.post({**QUESTION, "email": ""})
    assert status == 400 and 'id="email-error">Donnez une adresse e-mail ou un numéro' in page


async def test_a_filled_honeypot_is_thanked_and_dropped(site: WriteSite) -> None:
    status, page = await site.post({**QUESTION, "website": "http://spam.example"})
    assert status == 200 and "Votre message est bien arrivé" in page
    for table in ("web_messages", "questions", "mail_outbox"):
        assert await rows(site.pool, table) == []


async def test_a_form_sent_faster_than_a_person_types_is_shown_again(site: WriteSite) -> None:
    response = await site.client.get("/write")
    stamp = (await response.text()).split('name="stamp" value="')[1].split('"')[0]
    site.clock.advance(1)  # under the 3 s minimum
    status, page = await site.post(QUESTION, stamp=stamp)
    assert status == 400 and "envoyé trop vite" in page
    assert "Les urgences de Besançon" in page
    status, page = await site.post(QUESTION, stamp=stamp.replace(".", "x", 1))
    assert status == 400 and "Ce formulaire a expiré" in page
    assert await rows(site.pool, "web_messages") == []


async def test_the_same_form_sent_twice_is_one_post(site: WriteSite) -> None:
    _, stamp = await site.shown()
    assert (await site.post(QUESTION, stamp=stamp))[0] == 200
    assert (await site.post(QUESTION, stamp=stamp))[0] == 200
    assert len(await rows(site.pool, "web_messages")) == 1
    assert len(await rows(site.pool, "mail_outbox")) == 1


async def test_one_address_may_post_only_so_often(site: WriteSite) -> None:
    for _ in range(2):
        assert (await site.post(QUESTION))[0] == 200
    status, page = await site.post({**QUESTION, "email": "renee@example.fr"})
    assert status == 429 and "Trop de messages" in page
    assert len(await rows(site.pool, "web_messages")) == 2
    assert (await site.post({**QUESTION, "email": "paul@example.fr"}))[0] == 200


async def test_the_ticked_box_asks_for_a_confirmation_and_subscribes_nobody_by_itself(
        site: WriteSite) -> None:
    assert (await site.post({**QUESTION, "campaign_box": "yes"}))[0] == 200
    [post] = await rows(site.pool, "web_messages")
    assert (post["campaign_box"], post["box_wording"], post["box_version"]) == (
        True, BOX_FR, "form-2024-03")
    assert await rows(site.pool, "consent_events") == []  # no SMS consent from a web page
    [asked] = await rows(site.pool, "address_consent_events")
    assert (asked["kind"], asked["source"], asked["address"], asked["program"]) == (
        "opt_in_requested", "web_form", "renee@example.fr", "ensemble")
    assert (asked["wording"], asked["wording_version"], asked["web_submission_id"]) == (
        BOX_FR, "form-2024-03", post["id"])
    purposes = sorted(m["purpose"] for m in await rows(site.pool, "mail_outbox"))
    assert purposes == ["acknowledgement", "confirmation"]
    async with site.pool.acquire() as conn:
        assert not await may_send_bulk(conn, "renee@example.fr", "ensemble")  # until pressed


async def test_an_unticked_box_records_no_consent_at_all(site: WriteSite) -> None:
    assert (await site.post(QUESTION))[0] == 200
    assert await rows(site.pool, "address_consent_events") == []
    assert [m["purpose"] for m in await rows(site.pool, "mail_outbox")] == ["acknowledgement"]


async def test_english_from_the_query_or_the_browser_with_the_boxs_english_wording(
        site: WriteSite) -> None:
    page, _ = await site.shown("?lang=en")
    assert "Write to the campaign" in page and "I would like to receive information" in page
    page, _ = await site.shown(headers={"Accept-Language": "de-DE, en-GB;q=0.8, fr;q=0.5"})
    assert '<html lang="en">' in page
    page, stamp = await site.shown()
    assert '<html lang="fr">' in page and "Écrire à la campagne" in page
    assert 'href="https://ensemble.example.fr/charte"' in page
    status, page = await site.post({**QUESTION, "lang": "en"}, stamp=stamp)
    assert status == 200 and "Your message has arrived" in page
    [ack] = await rows(site.pool, "mail_outbox")
    assert ack["subject"] == "Ensemble Citoyen: your question (Santé)"
    assert "within 2 days" in ack["text_body"]


async def test_a_simple_request_from_the_form_gets_the_standard_answer(site: WriteSite) -> None:
    assert (await site.post({**QUESTION, "theme": "general",
                             "message": "Où est le comité le plus proche du 75011 ?"}))[0] == 200
    [post] = await rows(site.pool, "web_messages")
    assert post["route"] == "knowledge_answer"
    assert await rows(site.pool, "questions") == []
    [answer] = await rows(site.pool, "mail_outbox")
    assert answer["purpose"] == "knowledge_answer"
    assert "pas encore de comité près de 75011" in answer["text_body"]


async def test_a_post_from_another_site_is_refused(site: WriteSite) -> None:
    _, stamp = await site.shown()
    response = await site.client.post("/write", data={"stamp": stamp, **QUESTION},
                                      headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert await rows(site.pool, "web_messages") == []


async def test_erasing_a_number_removes_its_form_posts_and_keeps_e_mail_conversations(
        site: WriteSite, settings: Settings) -> None:
    number_only = {**QUESTION, "email": "", "mobile": "06 12 34 56 78"}
    both = {**QUESTION, "email": "paul@example.fr", "mobile": "06 12 34 56 78"}
    for post in (number_only, both):
        assert (await site.post(post))[0] == 200
    private = settings.model_copy(update={"privacy_hash_secret": SecretStr("erasure key")})
    async with site.pool.acquire() as conn:
        exported = await rights.export(conn, "+33612345678", by="dpo@example.org",
                                       now=SHOWN_AT, settings=private)
        assert len(exported["web_messages"]) == 2
        await rights.erase(conn, "+33612345678", by="dpo@example.org", settings=private)
    posts = await rows(site.pool, "web_messages")
    questions = await rows(site.pool, "questions")
    assert [(p["email"], p["msisdn"]) for p in posts] == [("paul@example.fr", None)]
    assert [(q["email"], q["msisdn"], q["shortcode"]) for q in questions] == [
        ("paul@example.fr", None, None)]
