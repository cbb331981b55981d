"""The knowledge base pages: organizers upload and version documents; an expert searches from
the answer form and inserts a passage or a link, without JavaScript, the draft kept.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from aiohttp import FormData

from tests.support.knowledge_files import add, encrypted_pdf, minimal_pdf
from tests.support.pages_site import form_token
from tests.support.questions import asked
from tests.support.webapi import WebApi

HOSPITAL = "L'hôpital de proximité rouvrira ses urgences la nuit <script>alert(1)</script>."
URL = "https://ensemble.example.fr/sante"


def upload(token: str, filename: str, data: bytes, **fields: str) -> FormData:
    form = FormData()
    form.add_field("csrf_token", token)
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return form


async def test_an_organizer_uploads_a_pdf_and_a_new_version(site: WebApi) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    page = await site.client.get("/knowledge")
    text = await page.text()
    assert page.status == 200
    assert '<a href="/knowledge" aria-current="page">Knowledge base</a>' in text
    assert 'enctype="multipart/form-data"' in text and "No document yet." in text
    token = form_token(text)

    pdf = minimal_pdf("Programme santé", "Un hôpital dans chaque canton.")
    sent = await site.client.post("/knowledge/documents", allow_redirects=False, data=upload(
        token, "programme.pdf", pdf, title="Programme : santé", program="ensemble",
        theme="sante", kind="programme", url=URL))
    assert sent.status == 303, await sent.text()
    location = sent.headers["Location"]
    assert re.fullmatch(r"/knowledge/documents/\d+\?notice=added", location)
    page = await site.client.get(location)
    text = await page.text()
    assert "searchable now" in text and "Un hôpital dans chaque canton." in text
    assert f'href="{URL}"' in text and "programme.pdf" in text

    document = location.split("?")[0]
    sent = await site.client.post(f"{document}/versions", allow_redirects=False, data=upload(
        token, "v2.md", "# Santé\n\nDeux **maternités** de plus.".encode(), note="v2"))
    assert sent.status == 303
    text = await (await site.client.get(document)).text()
    assert "Deux maternités de plus." in text and "Un hôpital" not in text
    old = await (await site.client.get(f"{document}?version=1")).text()
    assert "Un hôpital dans chaque canton." in old

    listed = await (await site.client.get("/knowledge?q=maternite")).text()
    assert re.search(r'<td>2 <small>', listed)  # the current version in the list
    assert "<mark>maternités</mark>" in listed

    sent = await site.client.post(f"{document}/active", data={"csrf_token": token, "on": "false"},
                                  allow_redirects=False)
    assert sent.status == 303
    listed = await (await site.client.get("/knowledge?q=maternite")).text()
    assert "No passage matches." in listed


async def test_a_refused_upload_says_why_beside_the_field(site: WebApi) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get("/knowledge")).text())
    refused = await site.client.post("/knowledge/documents", data=upload(
        token, "verrou.pdf", encrypted_pdf("secret"), title="Verrouillé", program="ensemble"))
    text = html.unescape(await refused.text())
    assert refused.status == 400
    assert 'id="doc-file-error">verrou.pdf: is encrypted with a password' in text
    assert 'value="Verrouillé"' in text  # what was typed is kept

    refused = await site.client.post("/knowledge/documents", data=upload(
        token, "a.txt", b"texte", title="Hors sujet", program="ensemble", theme="sport"))
    assert refused.status == 400
    assert "has no theme &#39;sport&#39;" in await refused.text()
    refused = await site.client.post("/knowledge/documents", data=upload(
        token, "a.txt", b"texte", program="ensemble"))
    assert refused.status == 400 and 'id="doc-title-error"' in await refused.text()
    async with site.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM knowledge_documents") == 0


async def test_an_expert_searches_and_inserts_a_passage_and_a_link(site: WebApi) -> None:
    question = await asked(site.pool, "+33600000301", "SANTE quand rouvrira l'hôpital ?",
                           datetime.now(UTC))
    await add(site.pool, "sante.txt", HOSPITAL, program="ensemble", theme="sante",
              title="Brochure santé", url=URL)
    await add(site.pool, "ecole.txt", "Un hôpital de jour pour les élèves.", program="ensemble",
              theme="education", title="Écoles")
    await site.staff("expert", email="sante@example.org", themes=("sante",))
    await site.login("sante@example.org")
    url = f"/inbox/questions/{question}"
    text = await (await site.client.get(url)).text()
    assert 'id="kb-q"' in text and f'formaction="{url}/knowledge"' in text
    assert 'src="/static/knowledge.js"' in text
    token = form_token(text)

    draft = "Bonjour, voici notre engagement."
    found = await site.client.post(f"{url}/knowledge", data={
        "csrf_token": token, "text": draft, "kb_q": "hopitaux"})
    text = await found.text()
    assert found.status == 200
    hits = re.search(r'<ol class="knowledge-hits".*?</ol>', text, re.S)
    assert hits, text
    assert "<mark>hôpital</mark>" in hits[0] and "Brochure santé" in hits[0]
    assert "Écoles" not in hits[0]  # another theme's document, unless asked
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hits[0] and "<script>alert" not in text
    assert f">{draft}</textarea>" in text
    passage = re.search(r'name="insert" value="(\d+)"', hits[0])
    assert passage

    inserted = await site.client.post(f"{url}/knowledge", data={
        "csrf_token": token, "text": draft, "kb_q": "hopitaux", "insert": passage[1]})
    text = html.unescape(await inserted.text())
    assert f">{draft}\n\n{HOSPITAL}</textarea>" in text
    assert "Inserted the passage from “Brochure santé” (version 1)" in text
    linked = await site.client.post(f"{url}/knowledge", data={
        "csrf_token": token, "text": "Lisez :", "kb_q": "hopitaux", "kb_all": "on",
        "insert_link": passage[1]})
    text = html.unescape(await linked.text())
    assert f">Lisez :\n\n{URL}</textarea>" in text
    assert "Écoles" in text  # every theme of the program

    sent = await site.client.post(f"{url}/answer", allow_redirects=False, data={
        "csrf_token": token, "text": f"Lisez : {URL}", "kb_q": "hopitaux"})
    assert sent.status == 303
    async with site.pool.acquire() as conn:
        assert await conn.fetchval("SELECT body FROM answers") == f"Lisez : {URL}"


async def test_the_search_keeps_the_inbox_fence(site: WebApi) -> None:
    question = await asked(site.pool, "+33600000302", "SANTE et l'hôpital ?", datetime.now(UTC))
    other = await site.staff("expert", email="edu@example.org", themes=("education",))
    refused = await site.client.post(f"/inbox/questions/{question}/knowledge",
                                     headers=other.bearer, data={"kb_q": "hopital"})
    assert refused.status == 403 and "not one of yours" in await refused.text()
    organizer = await site.staff("organizer")
    refused = await site.client.post(f"/inbox/questions/{question}/knowledge",
                                     headers=organizer.bearer, data={"kb_q": "hopital"})
    assert refused.status == 403
    missing = await site.client.post("/inbox/questions/999999/knowledge",
                                     headers=(await site.staff("admin")).bearer, data={})
    assert missing.status == 404
