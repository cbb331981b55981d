"""Functions that the hot tables' indexes evaluate on every write cost no planning and,
where they can, no query at all.

Why: PostgreSQL plans a SQL function's body again in each statement that calls it,
unless it can inline it, and a function with a query in its body cannot be inlined.
The contacts' name index (`contact_names`) did that in every MO lane batch's upsert:
48-75 us of PostgreSQL's CPU per batch (docs/performance.md, "Planned once per
connection"). Migration 550 made it PL/pgSQL, which keeps its plan for the connection;
migration 571 made it a SQL expression that PostgreSQL inlines, which runs the PL/pgSQL
query only for a profile with a name field: a new contact made by a JOIN has none. The
name search still reads the index (tests/test_contact_name_search.py).
"""

from __future__ import annotations

import json

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Every table an MO, its reply and the reply's receipt write.
HOT_TABLES = ["contacts", "inbound", "inbound_unacked", "outbound", "outbound_segments",
              "contact_events", "consent_events", "delivery_receipts", "pending_receipts"]

# Per index expression of those tables, each function it names and that function's language.
INDEX_FUNCTIONS = """
SELECT t.relname, pg_get_expr(i.indexprs, i.indrelid) AS expression, p.proname, l.lanname
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                 AND d.refclassid = 'pg_proc'::regclass
JOIN pg_proc p ON p.oid = d.refobjid
JOIN pg_language l ON l.oid = p.prolang
WHERE t.relname = ANY($1::text[])
"""

SQL_FUNCTIONS = """
SELECT p.proname FROM pg_proc p
JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'sql'
JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'public'
"""


async def evaluated(conn: asyncpg.Connection, table: str, expression: str) -> str:
    """What PostgreSQL evaluates for an index expression, once SQL functions are inlined."""
    plan = json.loads(await conn.fetchval(
        f"EXPLAIN (VERBOSE, FORMAT JSON) SELECT {expression} FROM {table}"))
    output: list[str] = plan[0]["Plan"]["Output"]
    return output[0]


async def test_no_index_of_a_hot_table_evaluates_a_sql_function_it_cannot_inline(
    pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch(INDEX_FUNCTIONS, HOT_TABLES)
        sql_functions = {r["proname"] for r in await conn.fetch(SQL_FUNCTIONS)}
        assert "contact_names" in {r["proname"] for r in rows}  # the check sees them
        for r in rows:
            if r["lanname"] == "sql":  # then inlined, and calling no SQL function left
                inlined = await evaluated(conn, r["relname"], r["expression"])
                assert not {f for f in sql_functions if f"{f}(" in inlined}, inlined


NO_NAMES = [{"v": 1, "subs": {"rise": {"status": "pending"}}},  # a JOIN's new contact
            {"v": 1, "profile": {"zip": "10001", "timezone": "America/New_York"}},
            {"v": 1, "profile": ["first_name"]},
            {"v": 1, "profile": "name"}]
WITH_NAMES = [{"v": 1, "profile": {"first_name": "Ann", "zip": "10001"}}]


async def test_the_name_query_runs_only_for_a_profile_with_a_name_field(
    pool: asyncpg.Pool
) -> None:
    """The index evaluates contact_names for every contact written; the PL/pgSQL query
    behind it is called (counted by track_functions) only where a name can be found."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL track_functions = 'pl'")
        for n, state in enumerate(NO_NAMES + WITH_NAMES):
            await conn.execute(
                "INSERT INTO contacts (msisdn, shortcode, state) VALUES ($1, '12345', $2)",
                f"+1555000{n:04d}", json.dumps(state))
        calls = await conn.fetchval(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions"
            " WHERE funcname = 'profile_names'")
    assert calls == len(WITH_NAMES)


PROFILES = st.dictionaries(
    st.sampled_from(["first_name", "last_name", "nickname", "zip", "email", "name", "city",
                     "Surname", "NAME", "names", "name_x", "name\n", ""]),
    st.text(alphabet="abcXYZ é-'", max_size=8), max_size=5)


# read-only: the pool may serve every example
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(profile=st.one_of(PROFILES, st.just("not an object"), st.just(["first_name"]),
                         st.none()))
async def test_contact_names_joins_the_name_fields_in_field_order(
    pool: asyncpg.Pool, profile: dict[str, str] | str | list[str] | None
) -> None:
    state = {"v": 1} if profile is None else {"v": 1, "profile": profile}
    names = await pool.fetchval("SELECT contact_names($1::jsonb)", json.dumps(state))
    fields = profile if isinstance(profile, dict) else {}
    assert names == " ".join(fields[k] for k in sorted(fields) if k.endswith("name"))
