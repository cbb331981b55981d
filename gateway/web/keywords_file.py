"""keywords.yaml from the web: read the file in force, check a copy, reload every instance.

Why here, beside the API and the pages rather than in one of them: the
keywords page and the API's /api/v1/keywords routes must read the same file,
report problems in the same shape (file, line, column, message) and reload
the same way, with the same audit rows. The checker is the one behind
`gateway keywords check` (engine/loader.py `parse_rules`).

There is no write path, on purpose: keywords.yaml is edited in the
repository or the deployment, and reloaded from here. A reload re-reads the
file on disk, checks it, and only then asks the running gateway to swap
(`WebContext.reload_rules`: here, then every other instance over the
database's NOTIFY channel); a bad file is refused with its problems and the
rules in force stay.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

from gateway.engine.loader import RulesError, load_rules, parse_rules
from gateway.plain_words import N_, said
from gateway.services import audit
from gateway.services.actor import Identity
from gateway.web.context import WebContext
from gateway.web.errors import ApiError

MAX_FILE_CHARS: Final = 512_000
PROBLEM: Final = re.compile(
    r"^(?P<file>.*?):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$", re.S)


def problem_json(problem: str) -> dict[str, Any]:
    """'FILE:LINE:COL: message' as fields, so a page can point at the line."""
    match = PROBLEM.match(problem)
    if match is None:
        return {"file": None, "line": None, "column": None, "message": problem,
                "text": problem}
    return {"file": match["file"], "line": int(match["line"]),
            "column": int(match["column"]), "message": match["message"], "text": problem}


def read_in_force(context: WebContext) -> dict[str, Any]:
    """The file the gateway reads: its path, text and checksum; 503 when unreadable."""
    path = context.settings.keywords
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ApiError(503, "keywords_unreadable", said(N_("cannot read %(name)s: %(err)s"),
                                                        name=path.name, err=err)) from None
    return {"path": str(path), "text": text,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def check_copy(text: str, filename: str) -> dict[str, Any]:
    """Whether `text` would load, and if not every problem with its line and column."""
    try:
        rules = parse_rules(text, filename)
    except RulesError as err:
        return {"valid": False, "problems": [problem_json(p) for p in err.problems]}
    return {"valid": True, "problems": [], "programs": sorted(rules.programs),
            "keywords": sum(len(code.exact) for code in rules.shortcodes.values())}


@dataclass(frozen=True, slots=True)
class Reload:
    swapped: bool
    problems: list[dict[str, Any]]  # the file's, as problem_json; empty when swapped, or
    # when the gateway refused a file that parses (its settings: see the gateway's log)


async def reload_everywhere(context: WebContext, principal: Identity | None,
                            client: str | None) -> Reload:
    """Check the file on disk and swap it in on every instance, or say why not.

    Audited either way. 503 when this process runs no gateway to reload.
    """
    path = context.settings.keywords
    try:
        load_rules(path)
        problems: list[str] = []
    except RulesError as err:
        problems = err.problems
    swapped = False
    if not problems:
        if context.reload_rules is None:
            raise ApiError(503, "no_gateway", N_("no running gateway to reload in this process"))
        swapped = context.reload_rules()
    async with context.pool.acquire() as conn:
        await audit.record(conn, principal, audit.KEYWORDS_RELOADED if swapped
                           else audit.KEYWORDS_RELOAD_REFUSED, f"keywords:{path.name}",
                           client=client, problems=len(problems))
    return Reload(swapped, [problem_json(p) for p in problems])
