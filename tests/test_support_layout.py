"""The tests' own layout: test files import shared helpers from tests/support, never each other.

Why it matters: a helper imported from another test file ties the two files
together (renaming or deleting a test breaks a stranger), and the importing
file drags the other's fixtures and module-level set-up in with it. What is
shared lives in tests/support (tests/README.md); the rule is checked on the
import statements themselves, so a new file cannot slip past it.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SUPPORT = TESTS / "support"


def names_of_test_files() -> set[str]:
    return {p.stem for p in TESTS.rglob("test_*.py")}


def imports_of_test_files(path: Path, tests: set[str]) -> list[str]:
    """'line: module' for each import in `path` that reaches one of the `tests` modules."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # `from tests import test_x`, `from tests.test_x import y`, `from . import test_x`
            module = node.module or ""
            names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if any(part in tests for part in name.split(".")):
                found.append(f"{node.lineno}: {name}")
                break
    return found


def test_no_file_imports_a_test_file() -> None:
    tests = names_of_test_files()
    wrong = [f"{path.relative_to(TESTS.parent)}:{hit}"
             for path in sorted(TESTS.rglob("*.py"))
             for hit in imports_of_test_files(path, tests)]
    assert wrong == [], "move the shared helper to tests/support:\n" + "\n".join(wrong)


def test_helpers_live_in_support_and_support_holds_no_tests() -> None:
    beside = sorted(p.name for p in TESTS.glob("*.py")
                    if p.name != "conftest.py" and not p.name.startswith("test_"))
    assert beside == [], "a helper module beside the test files belongs in tests/support"
    assert sorted(SUPPORT.rglob("test_*.py")) == [], "tests/support holds helpers, not tests"


def test_the_check_sees_every_way_of_importing_a_test_file(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from tests.test_cli import ROOT\n"
        "from tests import test_pdu\n"
        "import tests.test_text\n"
        "from . import test_udh\n"
        "import test_geo\n"
        "from tests.support.e2e import wait_for\n"
        "from gateway.smpp import pdu\n", encoding="utf-8")
    tests = {"test_cli", "test_pdu", "test_text", "test_udh", "test_geo"}
    assert imports_of_test_files(sample, tests) == [
        "1: tests.test_cli", "2: tests.test_pdu", "3: tests.test_text", "4: .test_udh",
        "5: test_geo"]
