"""Read YAML and remember where every value came from.

Why not `yaml.safe_load`: an organizer who gets "programs.rise.texts.help:
field required" still has to hunt for it. We compose the node graph, build
plain Python values from it, and keep each value's start mark keyed by its
path, so any later error (pydantic's `loc`, or our own checks) points at
FILE:LINE:COL.

Two YAML 1.1 traps are closed here: only `true`/`false` are booleans (`Y`,
`NO`, `on` stay strings: `Y` is our double opt-in answer and `NO` is a
country), and a duplicate mapping key is an error instead of a silent
overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

_BOOL_WORDS = {"true": True, "false": False}
# A keywords file has a few hundred values; this bound stops alias bombs.
MAX_NODES = 50_000


@dataclass(frozen=True, slots=True)
class Located:
    """A parsed document plus the source position of every node in it."""

    filename: str
    data: Any
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path, *, key: bool = False) -> str:
        """FILE:LINE:COL of the deepest known node on `path` (1-based)."""
        table = self.key_marks if key else self.marks
        probe = tuple(path)
        while probe:
            if probe in table:
                return self._format(table[probe])
            if probe in self.marks:
                return self._format(self.marks[probe])
            probe = probe[:-1]
        return self._format(self.marks.get((), (0, 0)))

    def _format(self, mark: tuple[int, int]) -> str:
        return f"{self.filename}:{mark[0] + 1}:{mark[1] + 1}"


class YamlSourceError(Exception):
    """The text is not YAML we accept; `problems` are already FILE:LINE:COL lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_located(text: str, filename: str) -> Located:
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
            raise YamlSourceError([f"{where}: invalid YAML: {err.problem or err}"]) from None
        if root is None:
            raise YamlSourceError([f"{filename}:1:1: the file is empty"])
        builder = _Builder(loader, filename)
        try:
            data = builder.build(root, ())
        except yaml.MarkedYAMLError as err:  # e.g. a !!python/object tag: refused
            mark = err.problem_mark or err.context_mark
            where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
            raise YamlSourceError([f"{where}: unsupported YAML: {err.problem or err}"]) from None
        if builder.problems:
            raise YamlSourceError(builder.problems)
        return Located(filename, data, builder.marks, builder.key_marks)
    finally:
        loader.dispose()


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, filename: str) -> None:
        self.loader = loader
        self.filename = filename
        self.marks: dict[Path, tuple[int, int]] = {}
        self.key_marks: dict[Path, tuple[int, int]] = {}
        self.problems: list[str] = []
        self.open_nodes: set[int] = set()  # collections being built: catches recursive aliases
        self.built = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.marks[path] = (node.start_mark.line, node.start_mark.column)
        self.built += 1
        if self.built > MAX_NODES:
            raise YamlSourceError([f"{self.filename}:{node.start_mark.line + 1}:"
                                   f"{node.start_mark.column + 1}: the file expands to more than "
                                   f"{MAX_NODES} values (aliases?); simplify it"])
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self.open_nodes:
            self._problem(node.start_mark, "an alias refers to a value that contains it")
            return None
        self.open_nodes.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open_nodes.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            mark = key_node.start_mark
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(mark, "a mapping key must be a plain word")
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._problem(mark, "merge keys (<<) are not supported; write the values out")
                continue
            key = str(key_node.value)
            if key in result:
                self._problem(mark, f"duplicate key {key!r}")
                continue
            self.key_marks[(*path, key)] = (mark.line, mark.column)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == "tag:yaml.org,2002:bool":
            return _BOOL_WORDS.get(str(node.value).lower(), str(node.value))
        if node.tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"):
            return str(node.value)  # dates stay text: versions like 2024-05-01
        return self.loader.construct_object(node, deep=True)

    def _problem(self, mark: yaml.Mark, message: str) -> None:
        self.problems.append(f"{self.filename}:{mark.line + 1}:{mark.column + 1}: {message}")
