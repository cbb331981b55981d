"""The import rules between layers, checked on the source so a violation fails CI.

The rules are the tables of docs/architecture.md ("Layers"): each layer's
modules and the layers it may import (an allow-list), and the libraries a
layer never imports. This test reads them from there, so the document and
the code cannot drift: every module of gateway/ must belong to a layer, and
every import (a subcommand the CLI imports by name included) must be allowed.
`FORBIDDEN` below names some lines explicitly too; it must agree with the
document.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = ROOT / "gateway"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Lines no layer may cross, whatever the document says: gateway packages and libraries.
FORBIDDEN = {
    "engine": ("gateway.store", "gateway.smpp", "gateway.web", "gateway.pipeline", "asyncio",
               "asyncpg", "aiohttp", "socket"),
    "store": ("gateway.engine", "gateway.smpp", "gateway.web", "gateway.pipeline",
              "gateway.broadcast", "gateway.billing"),
    "smpp": ("gateway.store", "gateway.engine", "gateway.web", "gateway.pipeline", "asyncpg"),
    # Billing is a service the pipeline and the web call, never the other way round.
    "billing": ("gateway.pipeline", "gateway.web"),
}

# Imports the document forbids that the code still makes, each with the work that ends it.
# A fixed one fails `test_pending_exceptions_are_still_needed`: then delete its entry.
PENDING: dict[tuple[str, str], str] = {}

NOTHING = {"—", "-", ""}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_table(header: tuple[str, ...]) -> list[list[str]]:
    """The rows of the table in docs/architecture.md whose header row is `header`."""
    lines = ARCHITECTURE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and tuple(_cells(line)) == header:
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(_cells(row))
            return rows
    raise AssertionError(f"docs/architecture.md has no table headed {' | '.join(header)}")


def _names(cell: str) -> set[str]:
    return {name.strip().strip("`") for name in cell.split(",")} - NOTHING


@cache
def layers() -> dict[str, tuple[tuple[str, ...], frozenset[str]]]:
    """layer -> (its module paths, relative to the repository; the layers it may import)."""
    found = {}
    for name, modules, allowed in markdown_table(("Layer", "Modules", "May import")):
        found[name] = (tuple(sorted(_names(modules))), frozenset(_names(allowed)))
    return found


def never_imported() -> dict[str, set[str]]:
    return {layer: _names(libraries)
            for layer, libraries in markdown_table(("Layer", "Never imports"))}


def layer_of(path: Path) -> str | None:
    """The layer whose most specific module path holds `path` (a file of the repository)."""
    rel = path.relative_to(ROOT).as_posix() + ("/" if path.is_dir() else "")
    best: tuple[int, str] | None = None
    for name, (modules, _) in layers().items():
        for module in modules:
            holds = rel == module or (module.endswith("/") and rel.startswith(module))
            if holds and (best is None or len(module) > best[0]):
                best = (len(module), name)
    return best[1] if best else None


def module_file(name: str) -> Path | None:
    """The file of a gateway module (`gateway.store.outbound`; a package without
    `__init__.py`: its folder), None for anything else."""
    if name != "gateway" and not name.startswith("gateway."):
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return base if base.is_dir() else None


def imported_modules(path: Path) -> set[str]:
    """What `path` imports: `import x`, `from x import y` (as x and x.y), and, in a module
    that imports by name (importlib), every string naming a gateway module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    if "importlib" in names:
        names.update(node.value for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and isinstance(node.value, str)
                     and re.fullmatch(r"gateway(\.\w+)+", node.value)
                     and module_file(node.value) is not None)
    return names


def gateway_files() -> list[Path]:
    return sorted(GATEWAY.rglob("*.py"))


def test_every_module_belongs_to_a_layer() -> None:
    assert [p.relative_to(ROOT).as_posix() for p in gateway_files() if layer_of(p) is None] == []


def test_the_table_names_only_modules_and_layers_that_exist() -> None:
    table = layers()
    missing = [module for modules, _ in table.values() for module in modules
               if not (ROOT / module).exists()]
    unknown = {name: sorted(allowed - set(table)) for name, (_, allowed) in table.items()
               if allowed - set(table)}
    assert missing == [] and unknown == {}
    assert set(never_imported()) <= set(table)


def _crossings() -> list[tuple[str, str, str, str]]:
    """(file, imported module, its layer, the importer's layer) for every disallowed import."""
    table = layers()
    found = []
    for path in gateway_files():
        mine = layer_of(path)
        assert mine is not None
        for name in sorted(imported_modules(path)):
            target = module_file(name)
            theirs = layer_of(target) if target is not None else None
            if theirs is not None and theirs != mine and theirs not in table[mine][1]:
                found.append((path.relative_to(ROOT).as_posix(), name, theirs, mine))
    return found


def test_every_import_is_allowed_by_the_layer_table() -> None:
    offenders = [f"{file} ({mine}) imports {name} ({theirs})"
                 for file, name, theirs, mine in _crossings() if (file, name) not in PENDING]
    assert offenders == []


def test_pending_exceptions_are_still_needed() -> None:
    crossing = {(file, name) for file, name, _, _ in _crossings()}
    assert [key for key in PENDING if key not in crossing] == []


def test_no_layer_imports_the_libraries_the_document_keeps_from_it() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in gateway_files()
        for name in imported_modules(path)
        for library in never_imported().get(layer_of(path) or "", ())
        if name == library or name.startswith(library + ".")
    ]
    assert offenders == []


def test_pages_and_the_command_line_never_call_the_api_modules() -> None:
    """The HTTP layer is not a service layer: only the app mounts gateway.web.api."""
    callers = sorted(
        path.relative_to(ROOT).as_posix() for path in gateway_files()
        if any(name == "gateway.web.api" or name.startswith("gateway.web.api.")
               for name in imported_modules(path))
        and layer_of(path) not in ("web.api", "app"))
    assert callers == []


def test_forbidden_agrees_with_the_document() -> None:
    table, libraries = layers(), never_imported()
    for layer, banned in FORBIDDEN.items():
        for name in banned:
            if name.startswith("gateway."):
                target = module_file(name)
                assert target is not None, name
                assert layer_of(target) not in table[layer][1], f"{layer} may import {name}"
            else:
                assert name in libraries.get(layer, set()), f"{layer}: add {name} to the doc"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downward(layer: str) -> None:
    offenders = [
        f"{path.relative_to(GATEWAY.parent)} imports {name}"
        for path in sorted((GATEWAY / layer).glob("*.py"))
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
        and (path.relative_to(ROOT).as_posix(), name) not in PENDING
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
