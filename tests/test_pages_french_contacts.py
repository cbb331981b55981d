"""A French-speaking user sees the contact pages and the expert inbox in French.

Over real HTTP with a real PostgreSQL (the `site` fixture): the contact page of
a number with a history (consent steps, two gifts with their receipts, donor
details, a conversation) for a French admin, and the inbox and one question
for a French expert. Each page is also fetched by an English-speaking user of
the same role: a sentence the English page shows must not be on the French page
as it is, unless it is the campaign's own data (the disclosures it sent, the
texts supporters wrote), which stays as written.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from gateway.store import users as user_store
from tests.support.contact_history import ANA, seed
from tests.support.questions import EDU, EDU_TEXT, asked
from tests.support.webapi import Staff, WebApi


class _Text(HTMLParser):
    """The text a reader sees (and hears: aria-label), one piece per text node."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1
        self.pieces += [value for name, value in attrs if name == "aria-label" and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.pieces.append(" ".join(data.split()))


def sentences(html: str) -> set[str]:
    """The pieces of text with at least two words of letters: what a translation changes."""
    reader = _Text()
    reader.feed(html)
    return {p for p in reader.pieces if re.search(r"[A-Za-z]{2,}\W+[A-Za-z]{2,}", p)}


async def _viewers(site: WebApi, role: str, themes: tuple[str, ...] = ()
                   ) -> tuple[Staff, Staff]:
    french = await site.staff(role, email=f"fr-{role}@example.org", themes=themes)
    english = await site.staff(role, email=f"en-{role}@example.org", themes=themes)
    async with site.pool.acquire() as conn:
        await user_store.set_preferences(conn, french.user.id, time_zone="Europe/Paris",
                                         language="fr")
        await user_store.set_preferences(conn, english.user.id, time_zone=None, language="en")
    return french, english


async def _both(site: WebApi, path: str, french: Staff, english: Staff) -> tuple[str, str]:
    pages = []
    for who in (french, english):
        response = await site.client.get(path, headers=who.bearer)
        html = await response.text()
        assert response.status == 200, (path, html[:400])
        pages.append(html)
    return pages[0], pages[1]


def untranslated(fr_html: str, en_html: str, data: tuple[str, ...]) -> list[str]:
    """English sentences left as they are on the French page (the campaign's data aside)."""
    same = sentences(fr_html) & sentences(en_html)
    return sorted(s for s in same if not any(s in d or d in s for d in data))


async def test_a_french_admin_reads_the_contact_page_in_french(site: WebApi) -> None:
    await seed(site.pool)
    french, english = await _viewers(site, "admin")
    fr_html, en_html = await _both(site, f"/contacts/{ANA}", french, english)
    assert '<html lang="fr">' in fr_html
    for words in ("Historique du consentement", "S'est inscrit à Rise Up Alerts",
                  "payé sur la facture téléphonique", "payé par carte", "SMS de remerciement",
                  "Coordonnées du donateur", "Une personne, toutes ses adresses",
                  "Effacer ce contact", "Conversations", "Notre réponse",
                  "2 dons, du plus récent au plus ancien", "25,00"):
        assert words in fr_html, words
    for words in ("Consent history", "paid by card", "thank-you text", "Donor details",
                  "Erase this contact", "2 gifts, newest first"):
        assert words in en_html and words not in fr_html, words
    # the campaign's data: its programs, texts and disclosure versions, the donor's
    # details, and its profile fields' names (from the keywords file)
    data = ("Rise Up", "thank you for your", "Press 1 to get our texts", "Ana Lopez",
            "12 Main St", "Acme Tools", "Schoolteacher", "Springfield", "us-optin-v3",
            "us-optout-v1", "First name")
    left = untranslated(fr_html, en_html, data)
    assert left == [], left

    refused = await site.client.get("/contacts", params={"name": "A" * 101},
                                    headers=french.bearer)
    assert refused.status == 400
    assert "Un nom fait au plus 100 caractères." in await refused.text()  # beside the field

    ledger_fr, ledger_en = await _both(site, f"/contacts/{ANA}/consent", french, english)
    assert "Registre du consentement de" in ledger_fr and "Texte présenté" in ledger_fr
    assert untranslated(ledger_fr, ledger_en, data) == []


async def test_a_french_expert_reads_the_inbox_and_a_question_in_french(site: WebApi) -> None:
    question = await asked(site.pool, EDU, EDU_TEXT, datetime.now(UTC))
    french, english = await _viewers(site, "expert", themes=("education",))
    data = (EDU_TEXT, "Ensemble Citoyen")  # the question, and the campaign's replies
    fr_html, en_html = await _both(site, "/inbox", french, english)
    for words in ("Vos thèmes : Education.", "Délai de réponse par thème", "Prendre en charge",
                  "1 en attente", "délai visé 2 j", "Boîte des experts"):
        assert words in fr_html, words
    assert "Your themes" in en_html and "Your themes" not in fr_html
    left = untranslated(fr_html, en_html, data)
    assert left == [], left

    fr_html, en_html = await _both(site, f"/inbox/questions/{question}", french, english)
    for words in ("La question", "Historique du contact", "Échéance", "Prendre en charge"):
        assert words in fr_html, words
    assert "The contact's timeline" in en_html
    left = untranslated(fr_html, en_html, data)
    assert left == [], left
