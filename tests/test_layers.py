"""The import rules between layers, checked on the source so a violation fails CI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"

FORBIDDEN = {
    "engine": ("gateway.store", "gateway.smpp", "gateway.web", "gateway.pipeline", "asyncio",
               "asyncpg", "aiohttp", "socket"),
    "store": ("gateway.engine", "gateway.smpp", "gateway.web", "gateway.pipeline",
              "gateway.broadcast", "gateway.billing"),
    "smpp": ("gateway.store", "gateway.engine", "gateway.web", "gateway.pipeline", "asyncpg"),
    # Billing is a service the pipeline and the web call, never the other way round.
    "billing": ("gateway.pipeline", "gateway.web"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downward(layer: str) -> None:
    offenders = [
        f"{path.relative_to(GATEWAY.parent)} imports {name}"
        for path in sorted((GATEWAY / layer).glob("*.py"))
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert offenders == []


def test_sql_lives_in_store() -> None:
    """No SQL in string constants outside store/.

    devdb.py is exempt: it is the developer's cluster manager (CREATE DATABASE
    on a local server), not part of the product's data path.
    """
    suspicious = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM")
    offenders = []
    for path in sorted(GATEWAY.rglob("*.py")):
        if "store" in path.parts or path.name == "devdb.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.upper()
                if any(word in text for word in suspicious) and " FROM " in text + " ":
                    offenders.append(f"{path.relative_to(GATEWAY.parent)}:{node.lineno}")
    assert offenders == []
