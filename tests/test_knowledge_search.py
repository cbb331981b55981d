"""Knowledge-base search on a real PostgreSQL: stemming and accents per language, filters,
ranking, highlights, and versions kept.

The documents go in through the real service (extraction, passages, store);
the search is PostgreSQL's (migration 210), so these tests are what proves
the text search configurations, `unaccent` and the GIN-indexed column.
"""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gateway.knowledge import service
from gateway.store import knowledge_docs as store
from gateway.store.migrate import apply_migrations
from tests.support.knowledge_files import NOW, ORGANIZER, ROOT, add, minimal_pdf

HOSPITALS = """# Santé

L'hôpital public de proximité rouvrira ses urgences la nuit, dans chaque
sous-préfecture.

Nous recruterons 5 000 infirmières et infirmiers en cinq ans.
"""
VOLUNTEERS = "Volunteering on weekends: canvass your block, staff a phone bank, host a meeting."


async def test_french_finds_hopital_for_hopitaux_and_highlights_it(pool: asyncpg.Pool) -> None:
    added = await add(pool, "sante.md", HOSPITALS, program="ensemble", theme="sante",
                      title="Programme : santé", kind="programme")
    await add(pool, "ecole.md", "Des classes de vingt élèves au plus.", program="ensemble",
              theme="education")

    [hit] = await service.search(pool, "hopitaux", program="ensemble")
    assert (hit.document_id, hit.title, hit.language, hit.version) == (
        added.document_id, "Programme : santé", "fr", 1)
    assert "L'hôpital public de proximité" in hit.body
    assert ("hôpital", True) in hit.parts  # the accented word is the one highlighted
    assert "\ue000" not in hit.snippet and "hôpital public" in hit.snippet
    # accents either way round, plural or not, and the stem of "infirmières"
    for words in ("hôpitaux", "HOPITAL", "Hôpital urgences", "infirmiere"):
        assert [h.document_id for h in await service.search(pool, words)] == [
            added.document_id], words
    assert await service.search(pool, "hôpital -urgences") == []  # websearch syntax: NOT
    assert [h.title for h in await service.search(pool, "eleve")] == ["A document"]


async def test_english_finds_volunteering_for_volunteer(pool: asyncpg.Pool) -> None:
    added = await add(pool, "volunteer.txt", VOLUNTEERS, program="rise", kind="faq")
    [hit] = await service.search(pool, "volunteer", program="rise")
    assert hit.document_id == added.document_id and hit.language == "en"
    assert ("Volunteering", True) in hit.parts
    assert [h.passage_id for h in await service.search(pool, "volunteers host")] == [
        hit.passage_id]
    # each document is matched in its own language: the French stemmer is not used on it
    assert await service.search(pool, "volunteer", program="ensemble") == []
    assert await service.search(pool, "volunteer", language="fr") == []


async def test_pdf_text_is_searchable_with_its_accents(pool: asyncpg.Pool) -> None:
    pdf = minimal_pdf("Brochure : les hôpitaux de proximité", "Réouverture des maternités")
    added = await add(pool, "brochure.pdf", pdf, program="ensemble", theme="sante",
                      kind="brochure")
    assert (added.format, added.version, added.passages) == ("pdf", 1, 1)
    [hit] = await service.search(pool, "maternite hopital")
    assert hit.document_id == added.document_id
    assert "Réouverture des maternités" in hit.body


async def test_filters_by_program_theme_and_activity(pool: asyncpg.Pool) -> None:
    health = await add(pool, "a.txt", "Les urgences de l'hôpital.", program="ensemble",
                       theme="sante")
    every = await add(pool, "b.txt", "Un hôpital par département.", program="ensemble")
    school = await add(pool, "c.txt", "L'infirmerie de l'hôpital scolaire.",
                       program="ensemble", theme="education")

    def ids(hits: list[service.Hit]) -> set[int]:
        return {h.document_id for h in hits}

    assert ids(await service.search(pool, "hôpital")) == {
        health.document_id, every.document_id, school.document_id}
    # a theme's documents and those filed for every theme
    assert ids(await service.search(pool, "hôpital", program="ensemble", theme="sante")) == {
        health.document_id, every.document_id}
    assert await service.search(pool, "hôpital", program="rise") == []
    await service.set_active(pool, ORGANIZER, every.document_id, False, now=NOW)
    assert ids(await service.search(pool, "hôpital", theme="sante")) == {health.document_id}
    assert await service.search(pool, "   ") == []
    assert await service.search(pool, "de la", language="fr") == []  # stop words only


async def test_ranking_puts_the_denser_passage_first(pool: asyncpg.Pool) -> None:
    once = await add(pool, "once.txt", "Le logement, et aussi la culture et le sport.",
                     program="ensemble")
    often = await add(pool, "often.txt", "Logement social : un logement digne, des logements "
                      "rénovés.", program="ensemble")
    hits = await service.search(pool, "logement")
    assert [h.document_id for h in hits] == [often.document_id, once.document_id]
    assert hits[0].rank > hits[1].rank > 0


async def test_a_new_version_replaces_the_old_in_search_and_both_are_kept(
        pool: asyncpg.Pool) -> None:
    added = await add(pool, "faq.md", "Les transports en commun seront gratuits.",
                      program="ensemble", theme="transports", kind="faq")
    second = await service.add_version(
        pool, ORGANIZER, added.document_id,
        service.Upload("faq-v2.html", "<p>Les trains régionaux seront gratuits.</p>".encode()),
        note="chiffrage revu", now=NOW)
    assert (second.document_id, second.version, second.format) == (
        added.document_id, 2, "html")

    assert await service.search(pool, "transports commun") == []
    [hit] = await service.search(pool, "train")
    assert (hit.document_id, hit.version) == (added.document_id, 2)

    async with pool.acquire() as conn:
        versions = await store.list_versions(conn, added.document_id)
        assert [(v["version"], v["source_name"], v["note"]) for v in versions] == [
            (2, "faq-v2.html", "chiffrage revu"), (1, "faq.md", "")]
        assert await store.version_text(conn, added.document_id, 1) == (
            "Les transports en commun seront gratuits.")
        document = await store.get_document(conn, added.document_id)
        assert document is not None and document["current_version"] == 2
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE knowledge_versions SET body = 'x'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("DELETE FROM knowledge_passages")
        actions = await conn.fetch(
            "SELECT action, target, detail->>'version' AS version FROM audit_log ORDER BY id")
    assert [(a["action"], a["target"], a["version"]) for a in actions] == [
        (service.DOCUMENT_ADDED, f"knowledge_document:{added.document_id}", "1"),
        (service.VERSION_ADDED, f"knowledge_document:{added.document_id}", "2")]


async def test_versions_racing_get_distinct_numbers(pool: asyncpg.Pool) -> None:
    added = await add(pool, "a.txt", "Version un.", program="rise")
    results = await asyncio.gather(*(
        service.add_version(pool, ORGANIZER, added.document_id,
                            service.Upload(f"v{i}.txt", f"Version {i}.".encode()), now=NOW)
        for i in range(5)))
    assert sorted(r.version for r in results) == [2, 3, 4, 5, 6]
    with pytest.raises(service.DocumentNotFound):
        await service.add_version(pool, ORGANIZER, 999999, service.Upload("x.txt", b"x"),
                                  now=NOW)


async def test_a_key_is_unique_within_a_program(pool: asyncpg.Pool) -> None:
    await add(pool, "a.txt", "Brochure.", program="ensemble", key="brochure")
    await add(pool, "b.txt", "Brochure.", program="rise", key="brochure")  # another program
    with pytest.raises(store.KeyTaken, match="already has a document with key 'brochure'"):
        await add(pool, "c.txt", "Autre.", program="ensemble", key="brochure")
    async with pool.acquire() as conn:
        assert len(await store.list_documents(conn)) == 2


async def test_every_migration_applies_as_a_plain_role_that_owns_its_database(
        pg_url: str, pg_admin: asyncpg.Connection) -> None:
    """unaccent is a trusted extension: a managed database's owner may create it."""
    if not await pg_admin.fetchval("SELECT rolsuper OR rolcreaterole FROM pg_roles "
                                   "WHERE rolname = current_user"):
        pytest.skip("TEST_DATABASE_URL's role may not create a role for this test")
    role, name = f"owner_{uuid.uuid4().hex[:8]}", f"plain_{uuid.uuid4().hex[:8]}"
    await pg_admin.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
    await pg_admin.execute(f'CREATE DATABASE "{name}" OWNER {role}')
    try:
        url = urlunsplit(urlsplit(pg_url)._replace(path=f"/{name}"))
        conn = await asyncpg.connect(url, user=role)
        try:
            assert not await conn.fetchval("SELECT rolsuper FROM pg_roles "
                                           "WHERE rolname = current_user")
            applied = await apply_migrations(conn, ROOT / "migrations")
            assert "210_knowledge_documents.sql" in applied
            assert await conn.fetchval(
                "SELECT to_tsvector('french_unaccent', 'Hôpitaux')::text") == "'hopital':1"
        finally:
            await conn.close()
    finally:
        await pg_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await pg_admin.execute(f"DROP ROLE IF EXISTS {role}")
