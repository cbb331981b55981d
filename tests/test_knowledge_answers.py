"""Standard answers that quote a document (keywords.yaml `lookup: document`), through the real
engine and pipeline writer on a real database, and the keywords check for such entries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from gateway.engine import Rules, RulesError, parse_rules
from gateway.engine.holder import RulesHolder
from gateway.knowledge import service
from gateway.knowledge.answers import QUOTE_CHARS, shortened
from gateway.pipeline.decide import DecisionWriter
from gateway.store import inbound as inbound_store
from gateway.store.inbound import NewInbound
from tests.support.knowledge_files import NOW, ORGANIZER, ROOT, add

SHEET = """Notre fiche santé, en bref, pour tous les Français et toutes les Françaises.

Les urgences de chaque hôpital de proximité rouvriront la nuit, avec des médecins de garde
payés au juste prix.

Nous doublerons les places en maisons de santé rurales."""
ENTRY = {"lookup": "document", "document": "fiche_sante",
         "answer": "{program} : « {document_quote} » ({document_title}) {document_url}",
         "not_found": "{program} : la fiche santé arrive bientôt."}


def rules_with(entry: dict[str, Any]) -> Rules:
    doc = yaml.safe_load((ROOT / "keywords.yaml").read_text(encoding="utf-8"))
    doc["knowledge"]["ensemble"]["fiche_sante"] = entry
    doc["keywords"].append({"word": "FICHESANTE", "program": "ensemble",
                            "action": "knowledge", "knowledge": "fiche_sante"})
    return parse_rules(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


async def texted(pool: asyncpg.Pool, rules: Rules, body: str, msisdn: str) -> list[str]:
    """One MO through the engine and the pipeline writer; the replies queued for it."""
    mo = NewInbound(msisdn, "38200", body, 0, 1, datetime.now(UTC))
    ids = inbound_store.IdReserve("inbound_id_seq", block=1)
    async with pool.acquire() as conn, conn.transaction():
        [mo_id] = await ids.take(conn, 1)
        await inbound_store.insert_batch(conn, [mo], [mo_id])
        await DecisionWriter(RulesHolder(rules)).decide_and_write(conn, [(mo_id, mo)])
        rows = await conn.fetch("SELECT body FROM outbound WHERE in_reply_to = $1 ORDER BY id",
                                mo_id)
    return [r["body"] for r in rows]


async def test_a_standard_answer_quotes_the_best_passage_of_the_document(
        pool: asyncpg.Pool) -> None:
    rules = rules_with(ENTRY)
    assert await texted(pool, rules, "FICHESANTE", "+33600000401") == [
        "Ensemble Citoyen : la fiche santé arrive bientôt."]

    added = await add(pool, "fiche.md", SHEET, program="ensemble", theme="sante",
                      title="Fiche santé", key="fiche_sante",
                      url="https://ensemble.example.fr/sante")
    [reply] = await texted(pool, rules, "FICHESANTE et les hopitaux ?", "+33600000402")
    assert reply.startswith("Ensemble Citoyen : « ")
    assert "chaque hôpital de proximité" in reply
    assert reply.endswith(" » (Fiche santé) https://ensemble.example.fr/sante")
    [reply] = await texted(pool, rules, "FICHESANTE maisons rurales", "+33600000403")
    assert "maisons de santé rurales" in reply
    [reply] = await texted(pool, rules, "FICHESANTE", "+33600000404")  # no word: the opening
    quote = reply.removeprefix("Ensemble Citoyen : « ").split(" » ")[0]
    assert quote.startswith("Notre fiche santé, en bref, pour tous les Français et toutes")
    assert quote.endswith("...") and len(quote) <= QUOTE_CHARS

    await service.set_active(pool, ORGANIZER, added.document_id, False, now=NOW)
    assert await texted(pool, rules, "FICHESANTE hôpital", "+33600000405") == [
        "Ensemble Citoyen : la fiche santé arrive bientôt."]


def test_the_keywords_check_wants_a_document_key_with_lookup_document() -> None:
    with pytest.raises(RulesError) as refused:
        rules_with({**ENTRY, "document": None})
    assert any("lookup document needs `document:`" in p for p in refused.value.problems)
    with pytest.raises(RulesError) as refused:
        rules_with({"answer": "{program} : voir le site.", "document": "fiche_sante"})
    assert any("`document:` is only used with lookup document" in p
               for p in refused.value.problems)
    with pytest.raises(RulesError) as refused:
        rules_with({**ENTRY, "answer": "{program} : {committee_name}"})
    assert any("committee_name" in p for p in refused.value.problems)


def test_quotes_are_cut_at_a_word() -> None:
    assert shortened("  court\n texte ") == "court texte"
    long = "mot " * 60
    cut = shortened(long)
    assert len(cut) <= QUOTE_CHARS and cut.endswith("mot...")
    assert shortened("x" * 300, 20) == "x" * 17 + "..."


@given(st.text(), st.integers(min_value=4, max_value=400))
def test_a_quote_never_exceeds_its_limit(text: str, limit: int) -> None:
    cut = shortened(text, limit)
    assert len(cut) <= limit
    assert cut == " ".join(text.split()) or cut.endswith("...")
