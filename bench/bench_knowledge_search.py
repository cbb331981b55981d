"""Knowledge-base search: how fast documents go in and how fast experts get answers back.

Adds `--documents` French documents of `--paragraphs` paragraphs each through
the real service (extraction, passages, inserts: the same path as an
upload), then times searches an expert would type (median and 95th
percentile over `--rounds`), and says whether PostgreSQL uses the GIN
index for a rare word (a common word in one theme is cheaper to find by
reading that theme's passages, and the planner does so).
The words are drawn from a fixed vocabulary with a fixed seed, so runs
compare. Local cluster, fsync on. Prints one JSON document.
Usage: python bench/bench_knowledge_search.py [--documents N] [--paragraphs N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from gateway.devdb import LocalPostgres
from gateway.engine import load_rules
from gateway.knowledge import service
from gateway.knowledge.placement import place
from gateway.logs import configure_logging
from gateway.store import knowledge_docs as store
from gateway.store.migrate import apply_migrations

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench" / "knowledge"
_TOPICAL = """hôpital hôpitaux urgences médecin école élèves lycée logement loyer transports
train gare emploi salaire retraite énergie climat région commune maire europe culture musée
justice police sécurité budget impôt entreprise agriculture village santé infirmière
université recherche numérique égalité"""
_FILLER = """nous allons pour les des une dans chaque avec sans plus tous toutes notre nos
votre leurs faire créer ouvrir renforcer garantir soutenir"""
WORDS, FILLER = tuple(_TOPICAL.split()), tuple(_FILLER.split())
QUERIES = ("hopitaux", "logement loyer", "\"pour chaque école\"", "école -lycée",
           "transports or train", "numerique egalite universite")
ACTOR = service.Actor(None, "bench@example.org")


def paragraph(rng: random.Random) -> str:
    count = rng.randint(40, 90)
    words = [rng.choice(WORDS if rng.random() < 0.3 else FILLER) for _ in range(count)]
    return " ".join(words).capitalize() + "."


async def seed(pool: asyncpg.Pool, documents: int, paragraphs: int) -> dict[str, Any]:
    rules = load_rules(ROOT / "keywords.yaml")
    themes = [None, *rules.themes["ensemble"].topics]
    rng = random.Random(15)
    started = time.perf_counter()
    passages = 0
    for number in range(documents):
        text = "\n\n".join(paragraph(rng) for _ in range(paragraphs))
        added = await service.add_document(
            pool, ACTOR, place(rules, "ensemble", themes[number % len(themes)]),
            service.Upload(f"doc-{number}.txt", text.encode()), title=f"Document {number}",
            kind="programme", now=datetime.now(UTC))
        passages += added.passages
    seconds = time.perf_counter() - started
    return {"documents": documents, "passages": passages, "seconds": round(seconds, 2),
            "documents_per_s": round(documents / seconds, 1)}


async def time_searches(pool: asyncpg.Pool, rounds: int) -> dict[str, Any]:
    timings: dict[str, list[float]] = {q: [] for q in QUERIES}
    hits: dict[str, int] = {}
    for _ in range(rounds):
        for query in QUERIES:
            started = time.perf_counter()
            found = await service.search(pool, query, program="ensemble", theme="sante")
            timings[query].append((time.perf_counter() - started) * 1000)
            hits[query] = len(found)
    async with pool.acquire() as conn:
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN " + store.SEARCH, "referendum", None, None, None, 10,
            store.HEADLINE_OPTIONS))  # a rare word, every program: the index's case
    every = [t for values in timings.values() for t in values]
    return {
        "rounds": rounds, "results": hits,
        "median_ms": round(statistics.median(every), 2),
        "p95_ms": round(statistics.quantiles(every, n=20)[18], 2),
        "per_query_median_ms": {q: round(statistics.median(v), 2) for q, v in timings.items()},
        "uses_gin_index": "knowledge_passages_search_idx" in plan,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--paragraphs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    configure_logging("WARNING")
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    cluster = LocalPostgres(BENCH_DIR / "pg", throwaway=False)
    url = cluster.start()
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        try:
            await apply_migrations(pool)
            added = await seed(pool, args.documents, args.paragraphs)
            async with pool.acquire() as conn:  # as autovacuum would: statistics, and GIN's
                await conn.execute("VACUUM ANALYZE")  # pending list merged into the index
            searched = await time_searches(pool, args.rounds)
        finally:
            await pool.close()
    finally:
        cluster.stop()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)
    print(json.dumps({"bench": "knowledge_search", "add": added, "search": searched}, indent=2,
                     ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
