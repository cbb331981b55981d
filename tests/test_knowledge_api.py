"""The knowledge base API over HTTP on a real database: add, version, list, search, who may
call what, and a clear 400/404/409 for each bad input.
"""

from __future__ import annotations

import base64
from typing import Any

from tests.support.knowledge_files import encrypted_pdf, minimal_pdf
from tests.support.webapi import Staff, WebApi

DOCS = "/api/v1/knowledge/documents"
SEARCH = "/api/v1/knowledge/search"
FAQ = "# Bénévolat\n\nLes bénévoles tractent le samedi et tiennent les permanences.\n"


async def call(web: WebApi, method: str, path: str, staff: Staff | None,
               body: dict[str, Any] | None = None) -> tuple[int, Any]:
    response = await web.client.request(method, path, json=body,
                                        headers=staff.bearer if staff else {})
    return response.status, await response.json()


def pdf_body(**fields: Any) -> dict[str, Any]:
    pdf = minimal_pdf("Brochure santé", "Un hôpital de proximité dans chaque canton.")
    return {"program": "ensemble", "theme": "sante", "title": "Brochure santé",
            "kind": "brochure", "filename": "brochure-sante.pdf",
            "content_base64": base64.b64encode(pdf).decode(),
            "url": "https://ensemble.example.fr/brochure-sante.pdf", **fields}


async def test_an_organizer_adds_versions_and_an_expert_searches(web: WebApi) -> None:
    organizer = await web.staff("organizer")
    expert = await web.staff("expert", email="sante@example.org", themes=("sante",))

    status, added = await call(web, "POST", DOCS, organizer, pdf_body())
    assert status == 201, added
    assert (added["version"], added["format"], added["passages"]) == (1, "pdf", 1)
    status, faq = await call(web, "POST", DOCS, organizer, {
        "program": "ensemble", "title": "FAQ bénévoles", "kind": "faq",
        "filename": "faq.md", "text": FAQ})
    assert status == 201 and faq["format"] == "markdown"

    status, found = await call(web, "GET", f"{SEARCH}?q=hopitaux&program=ensemble&theme=sante",
                               expert)
    assert status == 200
    [hit] = found["results"]
    assert (hit["document_id"], hit["title"], hit["version"], hit["language"]) == (
        added["id"], "Brochure santé", 1, "fr")
    assert hit["url"] == "https://ensemble.example.fr/brochure-sante.pdf"
    assert {"text": "hôpital", "match": True} in hit["snippet_parts"]
    status, found = await call(web, "GET", f"{SEARCH}?q=benevole", expert)
    assert [h["title"] for h in found["results"]] == ["FAQ bénévoles"]

    status, second = await call(web, "POST", f"{DOCS}/{added['id']}/versions", organizer, {
        "filename": "brochure-2.txt", "text": "Une maternité dans chaque département.",
        "note": "nouvelle brochure"})
    assert status == 201 and second["version"] == 2
    status, found = await call(web, "GET", f"{SEARCH}?q=hopitaux", expert)
    assert found["results"] == []  # version 1 is kept, out of search
    status, found = await call(web, "GET", f"{SEARCH}?q=maternites", expert)
    assert [h["version"] for h in found["results"]] == [2]

    status, detail = await call(web, "GET", f"{DOCS}/{added['id']}", organizer)
    assert status == 200
    assert (detail["version"], detail["text"]) == (2, "Une maternité dans chaque département.")
    assert [(v["version"], v["source_name"], v["note"], v["created_by"])
            for v in detail["versions"]] == [
        (2, "brochure-2.txt", "nouvelle brochure", "organizer@example.org"),
        (1, "brochure-sante.pdf", "", "organizer@example.org")]
    status, old = await call(web, "GET", f"{DOCS}/{added['id']}?version=1", organizer)
    assert old["text"].startswith("Brochure santé\nUn hôpital de proximité")

    status, listed = await call(web, "GET", f"{DOCS}?program=ensemble", organizer)
    assert [(d["title"], d["current_version"], d["source_name"]) for d in listed["documents"]] \
        == [("FAQ bénévoles", 1, "faq.md"), ("Brochure santé", 2, "brochure-2.txt")]

    status, off = await call(web, "POST", f"{DOCS}/{faq['id']}/active", organizer, {"on": False})
    assert (status, off) == (200, {"id": faq["id"], "active": False})
    status, found = await call(web, "GET", f"{SEARCH}?q=benevole", expert)
    assert found["results"] == []

    async with web.pool.acquire() as conn:
        rows = await conn.fetch("SELECT actor, action, target FROM audit_log ORDER BY id")
    assert [(r["actor"], r["action"], r["target"]) for r in rows] == [
        ("organizer@example.org", "knowledge.document_added", f"knowledge_document:{added['id']}"),
        ("organizer@example.org", "knowledge.document_added", f"knowledge_document:{faq['id']}"),
        ("organizer@example.org", "knowledge.version_added", f"knowledge_document:{added['id']}"),
        ("organizer@example.org", "knowledge.document_switched",
         f"knowledge_document:{faq['id']}")]


async def test_who_may_add_and_who_may_search(web: WebApi) -> None:
    staff = {role: await web.staff(role) for role in ("admin", "organizer", "finance", "expert")}
    body = {"program": "rise", "title": "Volunteer FAQ", "filename": "faq.txt",
            "text": "Volunteering: canvass, phone bank, host."}
    for role, wanted in (("expert", 403), ("finance", 403), ("admin", 201)):
        status, answer = await call(web, "POST", DOCS, staff[role], body | {"key": role})
        assert status == wanted, (role, answer)
    status, _ = await call(web, "POST", DOCS, None, body)
    assert status == 401
    for role, wanted in (("expert", 200), ("organizer", 200), ("admin", 200),
                         ("finance", 403)):
        status, found = await call(web, "GET", f"{SEARCH}?q=volunteer", staff[role])
        assert status == wanted, role
        if status == 200:
            assert [h["title"] for h in found["results"]] == ["Volunteer FAQ"]
    for path in (DOCS, f"{DOCS}/1"):
        status, _ = await call(web, "GET", path, staff["expert"])
        assert status == 403, path


async def test_bad_input_gets_a_clear_error_naming_the_field(web: WebApi) -> None:
    organizer = await web.staff("organizer")
    status, added = await call(web, "POST", DOCS, organizer, pdf_body(key="brochure"))
    assert status == 201
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        (pdf_body(program="nope"), 400, "program", "unknown program 'nope'; one of: "),
        (pdf_body(theme="sport"), 400, "theme", "program 'ensemble' has no theme 'sport'"),
        (pdf_body(program="rise", theme="sante"), 400, "theme", "its themes: none"),
        (pdf_body(text="x"), 400, "body", "either text or content_base64"),
        (pdf_body(content_base64="***"), 400, "content_base64", "not base64"),
        (pdf_body(content_base64=base64.b64encode(encrypted_pdf("x")).decode()), 400,
         "content_base64", "brochure-sante.pdf: is encrypted with a password"),
        (pdf_body(filename="brochure.docx"), 400, "content_base64",
         "brochure.docx: cannot read files of type .docx"),
        (pdf_body(url="javascript:alert(1)"), 400, "url", "should match pattern"),
        (pdf_body(kind="poster"), 400, "kind", "Input should be"),
        (pdf_body(title="   "), 400, "title", "the title is empty"),
        (pdf_body(language="de"), 400, "language", "Input should be"),
        (pdf_body(key="brochure"), 409, "key", "already has a document with key 'brochure'"),
        (pdf_body(key="Brochure!"), 400, "key", "should match pattern"),
    ]
    for body, wanted, field, message in cases:
        status, answer = await call(web, "POST", DOCS, organizer, body)
        assert (status, answer["error"]["field"]) == (wanted, field), (body, answer)
        assert message in answer["error"]["message"], answer
    status, answer = await call(web, "POST", f"{DOCS}/999999/versions", organizer,
                                {"filename": "a.txt", "text": "a"})
    assert (status, answer["error"]["code"]) == (404, "not_found")
    status, answer = await call(web, "POST", f"{DOCS}/{added['id']}/versions", organizer,
                                {"filename": "a.txt", "text": "   "})
    assert (status, answer["error"]["field"]) == (400, "text")
    assert answer["error"]["message"] == "a.txt: no text was found in it"
    status, answer = await call(web, "GET", f"{DOCS}/{added['id']}?version=7", organizer)
    assert (status, answer["error"]["message"]) == (
        404, f"version 7 of document {added['id']} not found")
    status, answer = await call(web, "GET", f"{SEARCH}?q=", organizer)
    assert (status, answer["error"]["field"]) == (400, "q")
    async with web.pool.acquire() as conn:  # nothing refused was stored
        assert await conn.fetchval("SELECT count(*) FROM knowledge_versions") == 1
