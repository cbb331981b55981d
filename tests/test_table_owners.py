"""One writer per table: every INSERT, UPDATE or DELETE of a table is in one store module.

Why: a table's rules (its states, what a column may hold, who clears it) are
read in one place only if they are written in one place. The outbox is the
case that asked for it: `outbound` was written from six store modules.

The check reads the SQL string constants of gateway/store/*.py (docstrings
left out) and the tables their statements write, and counts the writes in
the body of a function a migration defines for every store module whose
statements call it (the hot path's pinned plans live in such functions).
Other modules call the owner's functions; store/privacy.py's erasure, for
one, runs a step of each owner (`ERASE_STEPS`).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

STORE = Path(__file__).resolve().parents[1] / "gateway" / "store"
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
# A function's name and its body between dollar quotes (the migrations write $$ only); a
# body in SQL-standard form (RETURN ...) is one expression, which writes nothing.
_CREATE = r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+"
FUNCTION = re.compile(_CREATE + rf"([a-z_][a-z0-9_]*)\s*\((?:(?!{_CREATE}).)*?\$\$(.*?)\$\$",
                      re.IGNORECASE | re.DOTALL)

# `FOR UPDATE` (a row lock) and `DO UPDATE SET` (an upsert's own table) are not writes.
WRITE = re.compile(
    r"(?<!FOR )(?<!NO KEY )\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?"
    r"([a-z_][a-z0-9_]*)", re.IGNORECASE)
NOT_A_TABLE = frozenset({"set", "of", "skip", "nowait"})

# Tables written from more than one module on purpose, with the reason. None today.
SHARED: dict[str, str] = {}


def sql_constants(path: Path) -> list[str]:
    """Every string constant of the module but its docstrings (f-strings: their literal parts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def tables_written(sql: str) -> set[str]:
    return {m.group(1).lower() for m in WRITE.finditer(sql)} - NOT_A_TABLE


def function_writes() -> dict[str, set[str]]:
    """Per function a migration defines (the last definition wins), the tables it writes."""
    found: dict[str, set[str]] = {}
    for path in sorted(MIGRATIONS.glob("*.sql")):
        for match in FUNCTION.finditer(path.read_text(encoding="utf-8")):
            found[match.group(1).lower()] = tables_written(match.group(2))
    return found


def writers() -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    functions = function_writes()
    for path in sorted(STORE.glob("*.py")):
        for text in sql_constants(path):
            written = tables_written(text)
            for name, tables in functions.items():
                if re.search(rf"\b{name}\s*\(", text, re.IGNORECASE):
                    written |= tables
            for table in written:
                found[table].add(path.stem)
    return found


def test_every_table_has_one_writer_module() -> None:
    shared = {table: sorted(modules) for table, modules in writers().items()
              if len(modules) > 1 and table not in SHARED}
    assert shared == {}, "move these writes into the table's owner module"


def test_the_outbox_and_its_receipts_are_written_by_store_outbound_only() -> None:
    found = writers()
    for table in ("outbound", "outbound_segments", "delivery_receipts", "pending_receipts"):
        assert found[table] == {"outbound"}, table


def test_the_check_sees_writes_inside_statements_and_f_strings() -> None:
    """It must not pass by missing a write: a CTE's, a composed statement's."""
    found = writers()
    assert found["broadcasts"] == {"broadcasts"}  # MARK_MATERIALIZED, TRANSITION, ...
    assert found["answers"] == {"questions"}  # inside RECORD_ANSWER's WITH
    assert found["contacts"] == {"contacts"}
    assert "outbound" in found and "erased_numbers" in found


def test_the_check_sees_writes_inside_the_functions_a_store_module_calls() -> None:
    """The receipts are written only inside record_receipt_rows (migration 560)."""
    assert "delivery_receipts" in function_writes()["record_receipt_rows"]
    assert writers()["delivery_receipts"] == {"outbound"}


def test_deliberate_exceptions_are_still_needed() -> None:
    found = writers()
    assert [table for table in SHARED if len(found.get(table, ())) < 2] == []
