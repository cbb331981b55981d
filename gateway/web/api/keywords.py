"""keywords.yaml: read the file in force, check an edited copy, reload the running gateway.

Why validate is separate from reload: organizers edit the file, paste or
upload it here, and see every problem with its line and column before
anything changes. Reload reads the file on disk (the deployment's copy),
checks it the same way, and only then asks the gateway to swap; a bad file
is refused with its problems and the rules in force stay.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import Field

from gateway.engine.loader import RulesError, load_rules, parse_rules
from gateway.services import audit
from gateway.web.body import Strict
from gateway.web.errors import ApiError
from gateway.web.registry import Call, RouteTable

routes = RouteTable("keywords")

MAX_FILE_CHARS = 512_000
PROBLEM = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$", re.S)


class KeywordsFile(Strict):
    text: str = Field(max_length=MAX_FILE_CHARS, description="the whole keywords.yaml")
    filename: str = Field("keywords.yaml", max_length=200, pattern=r"^[^/\\\x00-\x1f]+$")


def problem_json(problem: str) -> dict[str, Any]:
    """'FILE:LINE:COL: message' as fields, so a page can point at the line."""
    match = PROBLEM.match(problem)
    if match is None:
        return {"file": None, "line": None, "column": None, "message": problem,
                "text": problem}
    return {"file": match["file"], "line": int(match["line"]),
            "column": int(match["column"]), "message": match["message"], "text": problem}


@routes.get("/api/v1/keywords", name="keywords.view",
            summary="The keywords file the gateway reads (its text and checksum)")
async def view(call: Call) -> dict[str, Any]:
    path = call.context.settings.keywords
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ApiError(503, "keywords_unreadable", f"cannot read {path.name}: {err}") from None
    return {"path": str(path), "text": text,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


@routes.post("/api/v1/keywords/validate", name="keywords.validate", body=KeywordsFile,
             summary="Check a keywords file (JSON {text}, a form upload or a text/yaml body)",
             description="Changes nothing. Answers valid and, if not, every problem with "
                         "its file, line and column.")
async def validate(call: Call) -> dict[str, Any]:
    body = call.body_as(KeywordsFile)
    try:
        rules = parse_rules(body.text, body.filename)
    except RulesError as err:
        return {"valid": False, "problems": [problem_json(p) for p in err.problems]}
    return {"valid": True, "problems": [], "programs": sorted(rules.programs),
            "keywords": sum(len(code.exact) for code in rules.shortcodes.values())}


@routes.post("/api/v1/keywords/reload", name="keywords.reload",
             summary="Re-read the keywords file on disk and swap it in, or say why not")
async def reload(call: Call) -> dict[str, Any]:
    context = call.context
    path = context.settings.keywords
    try:
        load_rules(path)
        problems: list[str] = []
    except RulesError as err:
        problems = err.problems
    swapped = False
    if not problems:
        if context.reload_rules is None:
            raise ApiError(503, "no_gateway", "no running gateway to reload in this process")
        swapped = context.reload_rules()
    async with call.pool.acquire() as conn:
        await call.audit(conn, audit.KEYWORDS_RELOADED if swapped
                         else audit.KEYWORDS_RELOAD_REFUSED, f"keywords:{path.name}",
                         problems=len(problems))
    if not swapped:
        raise ApiError(422, "invalid_keywords",
                       f"{path.name} has {len(problems)} problem(s); the rules in force stay",
                       extra={"problems": [problem_json(p) for p in problems]})
    return {"reloaded": True, "path": str(path)}

