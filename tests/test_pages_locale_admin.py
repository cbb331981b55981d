"""The organizers' pages in French, over real HTTP on PostgreSQL.

A user whose language is French opens the dashboard, the broadcast composer
(previews, is refused, creates) and the broadcast's page, and the campaign
form: each is in French, and none still shows one of its template's English
sentences (every msgid of the template that French words differently is
looked for in the page). An English user's dashboard stays English.
"""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

from babel.messages.extract import extract_from_file

import gateway.web
from gateway.store import users as user_store
from gateway.web.locale import translations
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

TEMPLATES = Path(gateway.web.__file__).parent / "templates"


def english_fragments(template: str) -> set[str]:
    """The template's English sentences and phrases, cut at their placeholders.

    Only the fragments French says differently and that are long enough (two
    words or more) to be a sentence rather than a code a page may show ("MO").
    """
    french = translations("fr")
    found = extract_from_file("jinja2", str(TEMPLATES / template),
                              options={"trim_blocks": "True", "lstrip_blocks": "True"})
    fragments: set[str] = set()
    for _, message, _, _ in found:
        for msgid in (message,) if isinstance(message, str) else message:
            if french.gettext(msgid) == msgid:
                continue
            for piece in re.split(r"%\(\w+\)s|<[^>]*>", msgid):
                piece = piece.strip(" :;,.()")
                if len(piece.split()) >= 2:
                    fragments.add(piece)
    return fragments


def leftover_english(page: str, template: str) -> list[str]:
    text = html_lib.unescape(page)
    return sorted(f for f in english_fragments(template) if f in text)


async def french_organizer(site: WebApi) -> None:
    staff = await site.staff("organizer", email="fr@example.org")
    async with site.pool.acquire() as conn:
        await user_store.set_preferences(conn, staff.user.id, time_zone="Europe/Paris",
                                         language="fr")
    await site.login("fr@example.org")


async def test_the_dashboard_is_in_french_for_a_french_user(site: WebApi) -> None:
    await french_organizer(site)
    page = await site.client.get("/dashboard")
    html = await page.text()
    assert page.status == 200, html[:400]
    assert '<html lang="fr">' in html and "<h1>Tableau de bord</h1>" in html
    for words in ("En ce moment", "SMS reçus par minute", "Croissance de la liste",
                  "Nouveaux abonnés par mot-clé", "Questions en attente de réponse",
                  ">7 jours<", "Messages par heure, dernières 24 heures",
                  "Aucun envoi groupé sur cette période."):
        assert words in html, words
    assert leftover_english(html, "dashboard.html") == []
    assert re.search(r"(janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.?</text>",
                     html), "the chart's days are not in French"


async def test_an_english_user_still_sees_the_english_dashboard(site: WebApi) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    html = await (await site.client.get("/dashboard")).text()
    assert '<html lang="en">' in html and "Right now" in html and "List growth" in html
    assert "En ce moment" not in html
    assert "List growth" in leftover_english(html, "dashboard.html")  # the check finds English


async def test_the_composer_and_a_broadcast_are_in_french(site: WebApi) -> None:
    await french_organizer(site)
    compose = await (await site.client.get("/broadcasts/new")).text()
    assert "<h1>Nouvel envoi groupé</h1>" in compose and "Qui le reçoit" in compose
    assert leftover_english(compose, "broadcast_new.html") == []
    form = {"csrf_token": form_token(compose), "program": "rise", "where": "",
            "text": "Bonjour {first_name|ami}, rassemblement à midi.", "action": "preview"}
    preview = await (await site.client.post("/broadcasts/new", data=form)).text()
    assert "Exemple de rendu" in preview and "SMS par message" in preview
    assert leftover_english(preview, "broadcast_new.html") == []
    refused = await site.client.post("/broadcasts/new", data={**form, "text": ""})
    kept = await refused.text()
    assert refused.status == 400
    assert 'id="text-error">le texte fait de 1 à 2000 caractères<' in kept
    created = await site.client.post("/broadcasts/new", allow_redirects=False,
                                     data={**form, "action": "create"})
    assert created.status == 303, await created.text()
    location = created.headers["Location"]
    broadcast_id = location.rsplit("/", 1)[1]
    page = await (await site.client.get(location)).text()
    assert f"<h1>Envoi groupé {broadcast_id}</h1>" in page
    assert 'id="broadcast-status">Brouillon<' in page  # the state in words, not "draft"
    for words in ("Tous les envois groupés", "Avancement", ">Lancer</button>",
                  "Compté dans la file d’envoi", "En attente de la fin des heures de silence",
                  "(tous les abonnés)"):
        assert words in page, words
    assert leftover_english(page, "broadcast.html") == []
    ask = await site.client.post(f"{location}/cancel", data={"csrf_token": form["csrf_token"]})
    asked = await ask.text()
    assert "Annuler définitivement cet envoi groupé ?" in asked
    assert leftover_english(asked, "broadcast_confirm.html") == []


async def test_a_refused_campaign_form_says_why_in_french(site: WebApi) -> None:
    await french_organizer(site)
    token = form_token(await (await site.client.get("/campaign")).text())
    refused = await site.client.post("/campaign/events", data={
        "csrf_token": token, "title": "Porte-à-porte", "starts_local": "demain",
        "timezone": "Europe/Paris"})
    html = await refused.text()
    assert refused.status == 400
    assert "Choisissez une date et une heure avec le sélecteur" in html
    assert leftover_english(html, "campaign.html") == []


async def test_staff_accounts_and_their_confirm_step_are_in_french(site: WebApi) -> None:
    admin = await site.staff("admin", email="admin-fr@example.org")
    other = await site.staff("organizer", email="org@example.org")
    async with site.pool.acquire() as conn:
        await user_store.set_preferences(conn, admin.user.id, time_zone=None, language="fr")
    await site.login("admin-fr@example.org")
    listing = await (await site.client.get("/users")).text()
    assert "Ajouter un compte" in listing and "Organisateur : contacts, mots-clés" in listing
    assert leftover_english(listing, "users.html") == []
    assert leftover_english(listing, "users_macros.html") == []
    asked = await (await site.client.post(f"/users/{other.user.id}/password",
                                          data={"csrf_token": form_token(listing)})).text()
    assert "<h1>Réinitialiser le mot de passe ?</h1>" in asked
    assert "org@example.org reçoit un nouveau mot de passe" in asked
    assert leftover_english(asked, "confirm.html") == []
