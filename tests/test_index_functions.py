"""Functions that the hot tables' indexes evaluate on every write are planned once per
connection, not once per statement.

Why: PostgreSQL plans a SQL function's body again in each statement that calls it,
unless it can inline it, and a function with a query in its body cannot be inlined
where an index evaluates it. The contacts' name index (`contact_names`) did that in
every MO lane batch's upsert: 48-75 us of PostgreSQL's CPU per batch
(docs/performance.md, "Planned once per connection"). Migration 550 makes it PL/pgSQL,
which keeps its plan for the connection; the name search still reads the index
(tests/test_contact_name_search.py).
"""

from __future__ import annotations

import json

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Every table an MO, its reply and the reply's receipt write.
HOT_TABLES = ["contacts", "inbound", "inbound_unacked", "outbound", "outbound_segments",
              "contact_events", "consent_events", "delivery_receipts", "pending_receipts"]

INDEX_FUNCTIONS = """
SELECT DISTINCT p.proname, l.lanname
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                 AND d.refclassid = 'pg_proc'::regclass
JOIN pg_proc p ON p.oid = d.refobjid
JOIN pg_language l ON l.oid = p.prolang
WHERE t.relname = ANY($1::text[])
"""


async def test_no_index_of_a_hot_table_evaluates_a_sql_function(pool: asyncpg.Pool) -> None:
    found = {r["proname"]: r["lanname"] for r in await pool.fetch(INDEX_FUNCTIONS, HOT_TABLES)}
    assert "contact_names" in found  # the check sees the functions indexes call
    assert {name for name, language in found.items() if language == "sql"} == set()


PROFILES = st.dictionaries(
    st.sampled_from(["first_name", "last_name", "nickname", "zip", "email", "name", "city"]),
    st.text(alphabet="abcXYZ é-'", max_size=8), max_size=5)


# read-only: the pool may serve every example
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(profile=st.one_of(PROFILES, st.just("not an object"), st.none()))
async def test_contact_names_joins_the_name_fields_in_field_order(
    pool: asyncpg.Pool, profile: dict[str, str] | str | None
) -> None:
    state = {"v": 1} if profile is None else {"v": 1, "profile": profile}
    names = await pool.fetchval("SELECT contact_names($1::jsonb)", json.dumps(state))
    fields = profile if isinstance(profile, dict) else {}
    assert names == " ".join(fields[k] for k in sorted(fields) if k.endswith("name"))
