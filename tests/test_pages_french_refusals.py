"""A refused form says why in French beside the field, and keeps what was typed.

Over real HTTP on PostgreSQL (the `site` fixture): a French user submits a
bad form on the broadcast composer, the staff accounts, the segments (an
unknown program), the webhooks and the donations report; each page answers
400 or 409 with the service's refusal in French in the field's error
paragraph and the typed value still in its input. The same request through
the API still gets the English message, in the JSON error shape, as before.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

from gateway.store import users as user_store
from tests.support.pages_site import form_token
from tests.support.webapi import Staff, WebApi, assert_error_shape


async def _french(site: WebApi, role: str) -> Staff:
    staff = await site.staff(role, email=f"fr-{role}@example.org")
    async with site.pool.acquire() as conn:
        await user_store.set_preferences(conn, staff.user.id, time_zone="Europe/Paris",
                                         language="fr")
    await site.login(f"fr-{role}@example.org")
    return staff


def beside(html: str, error_id: str) -> str:
    """The text of the error paragraph `error_id` (the one the field's aria-describedby names)."""
    found = re.search(rf'<p class="error" id="{re.escape(error_id)}"[^>]*>(.*?)</p>', html, re.S)
    assert found, f"no #{error_id} on the page"
    return html_lib.unescape(found.group(1)).strip()


def value_of(html: str, input_id: str) -> str:
    found = re.search(rf'<input id="{re.escape(input_id)}"[^>]*?value="([^"]*)"', html)
    assert found, f"no #{input_id} with a value"
    return html_lib.unescape(found.group(1))


async def _api(site: WebApi, staff: Staff, path: str, body: dict[str, Any],
               status: int) -> str:
    response = await site.client.post(path, json=body, headers=staff.bearer)
    answer = await response.json()
    assert response.status == status, answer
    message = assert_error_shape(answer)["message"]
    assert isinstance(message, str)
    return message


async def test_the_composer_refuses_an_unknown_placeholder_in_french(site: WebApi) -> None:
    staff = await _french(site, "organizer")
    page = await (await site.client.get("/broadcasts/new")).text()
    text = "Bonjour {firstname}, rassemblement à midi."
    refused = await site.client.post("/broadcasts/new", data={
        "csrf_token": form_token(page), "program": "rise", "where": "", "text": text,
        "action": "preview"})
    html = await refused.text()
    assert refused.status == 400, html[:400]
    assert beside(html, "text-error").startswith(
        "champ à remplacer inconnu {firstname} (vouliez-vous dire {first_name} ?) : il serait "
        "envoyé vide ; champs connus : ")
    assert f">{text}</textarea>" in html  # what was typed is still there
    english = await _api(site, staff, "/api/v1/broadcasts/preview",
                         {"program": "rise", "text": text}, 400)
    assert english.startswith("unknown placeholder {firstname} (did you mean {first_name}?): it "
                              "would be sent empty; known: ")


async def test_an_account_that_exists_is_refused_in_french(site: WebApi) -> None:
    admin = await _french(site, "admin")
    await site.staff("organizer", email="taken@example.org")
    page = await (await site.client.get("/users")).text()
    refused = await site.client.post("/users", data={
        "csrf_token": form_token(page), "email": "taken@example.org", "role": "organizer",
        "sign_in": "password"})
    html = await refused.text()
    assert refused.status == 409, html[:400]
    assert beside(html, "email-new-error") == "taken@example.org a déjà un compte"
    assert value_of(html, "email-new") == "taken@example.org"
    english = await _api(site, admin, "/api/v1/users",
                         {"email": "taken@example.org", "role": "organizer"}, 409)
    assert english == "taken@example.org already has an account"


async def test_a_segment_of_an_unknown_program_is_refused_in_french(site: WebApi) -> None:
    await _french(site, "organizer")
    page = await (await site.client.get("/segments")).text()
    refused = await site.client.post("/segments", data={
        "csrf_token": form_token(page), "name": "Paris volunteers", "program": "nope",
        "where": "zip starts with 75"})
    html = await refused.text()
    assert refused.status == 400, html[:400]
    assert beside(html, "program-error").startswith(
        "Le programme 'nope' n’est pas dans le fichier des mots-clés (programmes : ")
    assert value_of(html, "name") == "Paris volunteers"
    assert ">zip starts with 75</textarea>" in html


async def test_a_webhook_to_a_plain_http_address_is_refused_in_french(site: WebApi) -> None:
    admin = await _french(site, "admin")
    page = await (await site.client.get("/webhooks")).text()
    url = "http://crm.example.org/hooks/sms"
    refused = await site.client.post("/webhooks", data={
        "csrf_token": form_token(page), "url": url, "description": "CRM",
        "event_types": "contact.opted_in"})
    html = await refused.text()
    assert refused.status == 400, html[:400]
    assert beside(html, "new-url-error") == "l’URL doit commencer par https://"
    assert value_of(html, "new-url") == url
    english = await _api(site, admin, "/api/v1/webhooks",
                         {"url": url, "event_types": ["contact.opted_in"]}, 400)
    assert english == "the URL must start with https://"


async def test_the_donations_report_refuses_a_bad_period_and_number_in_french(
        site: WebApi) -> None:
    finance = await _french(site, "finance")
    refused = await site.client.get("/donations", params={
        "date_from": "2026-03-10", "date_to": "2026-03-01", "group_by": "day"})
    html = await refused.text()
    assert refused.status == 400, html[:400]
    assert beside(html, "date_to-error") == \
        "le rapport finit (2026-03-01) avant de commencer (2026-03-10)"
    assert value_of(html, "date_from") == "2026-03-10"
    assert value_of(html, "date_to") == "2026-03-01"
    lookup = await site.client.get("/donations/donor", params={"number": "555-01"})
    html = await lookup.text()
    assert lookup.status == 400, html[:400]
    assert beside(html, "number-error") == ("'555-01' n’est pas un numéro de téléphone : "
                                            "donnez-le avec son indicatif du pays, comme "
                                            "+33612345678")
    assert value_of(html, "donor-number") == "555-01"
    response = await site.client.get(
        "/api/v1/reports/donations", headers=finance.bearer,
        params={"date_from": "2026-03-10", "date_to": "2026-03-01"})
    answer = await response.json()
    assert response.status == 400, answer
    assert assert_error_shape(answer)["message"] == \
        "the report ends (2026-03-01) before it starts (2026-03-10)"


async def test_an_english_user_still_reads_the_english_refusal(site: WebApi) -> None:
    await site.staff("organizer", email="en@example.org")
    await site.login("en@example.org")
    page = await (await site.client.get("/segments")).text()
    refused = await site.client.post("/segments", data={
        "csrf_token": form_token(page), "name": "x", "program": "nope", "where": ""})
    html = await refused.text()
    assert refused.status == 400
    assert beside(html, "program-error").startswith(
        "Program 'nope' is not in the keywords file (programs: ")
