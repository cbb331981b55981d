"""Every link and every cited file in the documents exists in the repository.

Why a test: a guide that sends its reader to a file or a section that is not
there is worse than none, and documents rot silently as code moves. Three
rules, checked on the files as they are:

1. a relative Markdown link in README.md, CHANGELOG.md, BENCHMARKS.md or
   docs/*.md resolves to a file or folder of the repository, and its `#anchor`
   to a heading of the target (GitHub's slug rules);
2. a path in backticks that starts at a top-level folder (`gateway/...`,
   `tests/...`, `migrations/...`, `docs/...`, `bench/...`) exists; a glob
   matches something; `tests/x.py::name` names a test defined in that file;
3. no document, comment or string cites a Markdown file the repository does
   not hold (`COMPLIANCE.md` at the root, `../shared/...`, `README-finance`):
   every `*.md` it names is found from the root or from the citing file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Written on other branches of issue 14 and present once they are merged: the
# lead empties this set at merge, after which a link to a missing one fails.
PENDING_DOCS: frozenset[str] = frozenset()

# Applied migrations are immutable (gateway/store/migrate.py refuses to start when
# an applied file's checksum changes), so the names their first comments give to
# documents of the time stay as written.
FROZEN = frozenset({
    "migrations/002_consent_and_profiles.sql", "migrations/003_donations.sql",
    "migrations/007_finance.sql", "migrations/009_donor_details.sql",
    "migrations/011_subject_cap.sql",
})

TOP_FOLDERS = ("gateway/", "tests/", "migrations/", "docs/", "bench/", ".ci/")
SCANNED_SUFFIXES = {".py", ".md", ".sql", ".yaml", ".yml", ".toml", ".html", ".js", ".css",
                    ".cfg", ".txt"}
SCANNED_NAMES = {"Makefile", "Dockerfile", "run", ".dockerignore", ".gitignore"}
SKIPPED_PARTS = {".git", ".venv", "node_modules", "__pycache__", ".demo", ".bench",
                 ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "build", "dist"}

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
MD_NAME = re.compile(r"[\w./-]*\w\.md\b")
OUTSIDE = re.compile(r"\.\./shared|README-[A-Za-z][\w-]*")
LINK_TARGET = re.compile(r"\]\([^)]*\)")


def markdown_documents(root: Path) -> list[Path]:
    top = [root / name for name in ("README.md", "CHANGELOG.md", "BENCHMARKS.md")]
    return [p for p in top if p.is_file()] + sorted((root / "docs").glob("*.md"))


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for the lines outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation gone, - for space."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[`*]", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def pending(root: Path, target: Path, pending_docs: Iterable[str]) -> bool:
    return any(target == (root / name).resolve() for name in pending_docs)


def link_problems(root: Path, doc: Path, pending_docs: Iterable[str]) -> list[str]:
    problems: list[str] = []
    name = doc.relative_to(root)
    for number, line in prose_lines(doc.read_text(encoding="utf-8")):
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto:
            path_part, _, anchor = target.partition("#")
            resolved = (doc.parent / path_part).resolve() if path_part else doc.resolve()
            where = f"{name}:{number}: link {target!r}"
            if not resolved.is_relative_to(root.resolve()):
                problems.append(f"{where} leaves the repository")
            elif pending(root, resolved, pending_docs):
                continue
            elif not resolved.exists():
                problems.append(f"{where}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                problems.append(f"{where}: no heading #{anchor} in {resolved.relative_to(root)}")
    return problems


def defines(path: Path, test_name: str) -> bool:
    bare = test_name.split("[", 1)[0]
    pattern = rf"^\s*(async\s+)?def\s+{re.escape(bare)}\s*\("
    return re.search(pattern, path.read_text(encoding="utf-8"), re.M) is not None


def cited_path_problems(root: Path, doc: Path, pending_docs: Iterable[str]) -> list[str]:
    problems: list[str] = []
    name = doc.relative_to(root)
    for number, line in prose_lines(doc.read_text(encoding="utf-8")):
        for match in CODE_SPAN.finditer(line):
            cited = match.group(1).strip()
            if not cited.startswith(TOP_FOLDERS) or " " in cited:
                continue
            path_part, _, test_name = cited.partition("::")
            path_part = path_part.split("#", 1)[0].rstrip(".,:;")
            where = f"{name}:{number}: `{cited}`"
            if "*" in path_part:
                if not any(root.glob(path_part)):
                    problems.append(f"{where} matches no file")
            elif pending(root, (root / path_part).resolve(), pending_docs):
                continue
            elif not (root / path_part).exists():
                problems.append(f"{where}: no such file or folder")
            elif test_name and not defines(root / path_part, test_name):
                problems.append(f"{where}: {path_part} defines no {test_name}")
    return problems


def scanned_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or SKIPPED_PARTS.intersection(relative.parts):
            continue
        if path.suffix in SCANNED_SUFFIXES or path.name in SCANNED_NAMES:
            yield path


def relative_test_data(name: str) -> bool:
    """Tests name files they make (an upload called "faq.md"); a bare quoted name there is data."""
    return name.startswith("tests/")


def outside_citation_problems(root: Path, pending_docs: Iterable[str],
                              skip: Iterable[str] = ()) -> list[str]:
    """Markdown files named anywhere (docs, comments, strings) that the repository lacks."""
    problems: list[str] = []
    skipped = set(skip) | FROZEN
    pending_set = {(root / name).resolve() for name in pending_docs}
    for path in scanned_files(root):
        name = path.relative_to(root).as_posix()
        if name in skipped:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if path.suffix == ".md":
                line = LINK_TARGET.sub("]", line)  # link targets: checked by link_problems
            for bad in OUTSIDE.finditer(line):
                problems.append(f"{name}:{number}: cites {bad.group(0)!r}, not in the repository")
            for match in MD_NAME.finditer(line):
                word_start = line.rfind(" ", 0, match.start()) + 1
                if "://" in line[word_start:match.end()]:
                    continue  # part of a URL
                cited = match.group(0)
                if (relative_test_data(name) and "/" not in cited
                        and line[match.start() - 1:match.start()] in {'"', "'"}
                        and line[match.end():match.end() + 1] in {'"', "'"}):
                    continue  # a test's upload named "faq.md": data, not a citation
                candidates = {(root / cited).resolve(), (path.parent / cited).resolve()}
                if not any(c.exists() or c in pending_set for c in candidates):
                    problems.append(f"{name}:{number}: cites {cited!r}, not in the repository")
    return problems


def all_problems(root: Path, pending_docs: Iterable[str] = PENDING_DOCS,
                 skip: Iterable[str] = ()) -> list[str]:
    problems: list[str] = []
    for doc in markdown_documents(root):
        problems += link_problems(root, doc, pending_docs)
        problems += cited_path_problems(root, doc, pending_docs)
    return problems + outside_citation_problems(root, pending_docs, skip)


def test_every_link_and_cited_file_in_the_repository_resolves() -> None:
    # this file names missing documents on purpose, as the checker's test data
    assert all_problems(ROOT, skip={"tests/test_docs_links.py"}) == []


def test_pending_docs_are_not_yet_here_or_the_set_should_be_emptied() -> None:
    """Once a pending document exists, its entry only hides broken anchors: drop it."""
    assert [name for name in sorted(PENDING_DOCS) if (ROOT / name).exists()] == []


@pytest.mark.parametrize(("heading", "expected"), [
    ("Settlement files", "settlement-files"),
    ("1. The matrix", "1-the-matrix"),
    ("`make demo`", "make-demo"),
    ("Where a login may send the browser (`next`)", "where-a-login-may-send-the-browser-next"),
    ("MOs to a short code `keywords.yaml` does not know",
     "mos-to-a-short-code-keywordsyaml-does-not-know"),
    ("Finance: reports and reconciliation", "finance-reports-and-reconciliation"),
    ("See [the guide](README.md) now", "see-the-guide-now"),
    ("Ça marche — oui", "ça-marche--oui"),
])
def test_slugs_follow_githubs_rules(heading: str, expected: str) -> None:
    assert slug(heading) == expected


def test_the_checker_finds_each_kind_of_dangling_reference(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "gateway").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(
        "async def test_real() -> None:\n    upload('faq.md')  # data; not COMPLIANCE.md\n")
    (tmp_path / "docs" / "b.md").write_text("# B\n\n## Same\n\n## Same\n")
    (tmp_path / "README.md").write_text("\n".join([
        "# Guide",
        "[ok](docs/b.md) [ok](docs/b.md#same-1) [ok](#guide) [web](https://example.org/x.md)",
        "[gone](docs/missing.md) [bad anchor](docs/b.md#nothing) [out](../elsewhere.md)",
        "[later](docs/pending-soon.md#any) `docs/pending-soon.md`",
        "`tests/test_a.py::test_real` `tests/test_a.py::test_imagined` `gateway/nowhere.py`",
        "`tests/test_*.py` `bench/*.py` `gateway/` `not/a/top/folder.py`",
        "```", "[in a fence](docs/fenced.md) `gateway/fenced.py`", "```",
        "`[in code](docs/code.md)`",
    ]))
    (tmp_path / "gateway" / "mod.py").write_text(
        '"""See docs/b.md and ../shared/rules and COMPLIANCE.md, not README-finance."""\n'
        '# https://example.org/STYLE.md is a web page, docs/pending-soon.md comes later\n')

    problems = all_problems(tmp_path, pending_docs={"docs/pending-soon.md"})

    assert problems == [
        "README.md:3: link 'docs/missing.md': no such file",
        "README.md:3: link 'docs/b.md#nothing': no heading #nothing in docs/b.md",
        "README.md:3: link '../elsewhere.md' leaves the repository",
        "README.md:5: `tests/test_a.py::test_imagined`: tests/test_a.py defines no test_imagined",
        "README.md:5: `gateway/nowhere.py`: no such file or folder",
        "README.md:6: `bench/*.py` matches no file",
        "gateway/mod.py:1: cites '../shared', not in the repository",
        "gateway/mod.py:1: cites 'README-finance', not in the repository",
        "gateway/mod.py:1: cites 'COMPLIANCE.md', not in the repository",
        "tests/test_a.py:2: cites 'COMPLIANCE.md', not in the repository",
    ]
