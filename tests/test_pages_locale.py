"""The pages in the viewer's zone and language, over real HTTP.

A user who chose America/Los_Angeles sees the reconciliation's "as of" time
with PST or PDT and its amounts as "$1,234.56"; a French user sees the French
navigation, an English one the English; "My settings" stores the choice
through a real form post (session cookie, CSRF token).
"""

from __future__ import annotations

import re

from gateway.store import users as user_store
from tests.support.finance_ledger import gift
from tests.support.pages_site import form_token, start_site
from tests.support.webapi import WebApi


async def test_a_los_angeles_user_sees_local_times_and_dollar_amounts(site: WebApi) -> None:
    finance = await site.staff("finance")
    async with site.pool.acquire() as conn:
        await gift(conn, amount=123_456)
        await user_store.set_preferences(conn, finance.user.id,
                                         time_zone="America/Los_Angeles", language=None)
    page = await site.client.get("/donations/reconciliation", headers=finance.bearer)
    html = await page.text()
    assert page.status == 200, html[:400]
    assert "$1,234.56" in html
    as_of = re.search(r"As of ([^<]*)\.</p>", html)
    assert as_of, html
    assert re.search(r"\d{1,2}:\d{2}\u202f[AP]M P[SD]T$", as_of[1]), as_of[1]


async def test_a_french_user_sees_the_french_navigation_an_english_one_the_english(
        site: WebApi) -> None:
    french = await site.staff("organizer", email="fr@example.org")
    english = await site.staff("organizer", email="en@example.org")
    async with site.pool.acquire() as conn:
        await user_store.set_preferences(conn, french.user.id, time_zone=None, language="fr")
    fr_html = await (await site.client.get("/contacts", headers=french.bearer)).text()
    en_html = await (await site.client.get("/contacts", headers=english.bearer)).text()
    assert '<html lang="fr">' in fr_html
    for words in ("Tableau de bord", "Envois groupés", "Se déconnecter", "Mes réglages",
                  "Aller au contenu", "(organisateur)"):
        assert words in fr_html, words
        assert words not in en_html, words
    for words in (">Dashboard<", ">Broadcasts<", "Log out", "My settings", "(organizer)"):
        assert words in en_html, words
        assert words not in fr_html, words


async def test_my_settings_stores_the_zone_and_language_chosen(site: WebApi) -> None:
    staff = await site.staff("expert")
    await site.login(staff.user.email)
    form = await (await site.client.get("/settings")).text()
    assert 'value="America/Los_Angeles"' in form
    assert "The organization's (UTC)" in form
    saved = await site.client.post("/settings", data={
        "csrf_token": form_token(form), "time_zone": "America/Los_Angeles", "language": "fr"})
    html = await saved.text()
    assert saved.status == 200 and saved.url.path == "/settings", html[:400]
    assert "Enregistré." in html and "<h1>Mes réglages</h1>" in html
    assert '<option value="America/Los_Angeles" selected>' in html
    async with site.pool.acquire() as conn:
        user = await user_store.get_user(conn, staff.user.id)
    assert user is not None
    assert (user.time_zone, user.language) == ("America/Los_Angeles", "fr")


async def test_a_zone_that_is_not_one_is_refused_and_nothing_is_stored(site: WebApi) -> None:
    staff = await site.staff("admin")
    await site.login(staff.user.email)
    form = await (await site.client.get("/settings")).text()
    refused = await site.client.post("/settings", data={
        "csrf_token": form_token(form), "time_zone": "Mars/Olympus", "language": "en"})
    assert refused.status == 400
    assert "&#39;Mars/Olympus&#39; is not a time zone" in await refused.text()
    async with site.pool.acquire() as conn:
        user = await user_store.get_user(conn, staff.user.id)
    assert user is not None and user.time_zone is None


async def test_the_login_page_speaks_the_campaigns_language(site: WebApi) -> None:
    french = await start_site(site.pool, site.settings, organization_language="fr")
    try:
        html = await (await french.client.get("/login")).text()
        assert "<h1>Se connecter</h1>" in html and "Mot de passe" in html
    finally:
        await french.client.close()

