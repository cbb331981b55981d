"""The plans PostgreSQL executed, sent to a test's own connection by `auto_explain`.

Why: a statement inside a function, or one whose plan comes from the plan
cache, cannot be shown by EXPLAIN from the test; `auto_explain`, loaded for
one session only, logs each plan as it runs, and `client_min_messages = log`
sends those log lines to that session, where asyncpg hands them to a log
listener.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg


def settings(*, analyze: bool = False, nested: bool = False) -> str:
    """The statements that make this session report every plan it executes, as JSON."""
    return "\n".join([
        "LOAD 'auto_explain';",
        "SET auto_explain.log_min_duration = 0;",
        f"SET auto_explain.log_analyze = {'on' if analyze else 'off'};",
        "SET auto_explain.log_timing = off;",
        f"SET auto_explain.log_nested_statements = {'on' if nested else 'off'};",
        "SET auto_explain.log_format = json;",
        "SET client_min_messages = log;",
    ])


class ExecutedPlans:
    """Collects the JSON plans of the session it listens to (`listen`, then `stop`)."""

    def __init__(self) -> None:
        self.plans: list[dict[str, Any]] = []

    def keep(self, _conn: object, message: asyncpg.PostgresLogMessage) -> None:
        text = message.message
        if "plan:" in text:
            self.plans.append(json.loads(text.split("plan:", 1)[1]))

    def of(self, query_part: str) -> list[dict[str, Any]]:
        """The plans of the statements whose text holds `query_part`, in order."""
        return [p for p in self.plans if query_part in p.get("Query Text", "")]


def cte_rescans(node: dict[str, Any]) -> list[tuple[str, int]]:
    """(CTE name, times scanned) of each CTE Scan of an analyzed plan that ran more than
    once: a nested loop reading a batch again for every row of another."""
    found = []
    if node.get("Node Type") == "CTE Scan" and node.get("Actual Loops", 0) > 1:
        found.append((node["CTE Name"], node["Actual Loops"]))
    for child in node.get("Plans", []):
        found.extend(cte_rescans(child))
    return found
