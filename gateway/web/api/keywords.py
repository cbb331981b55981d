"""keywords.yaml: read the file in force, check an edited copy, reload the running gateway.

Why validate is separate from reload: organizers edit the file, paste or
upload it here, and see every problem with its line and column before
anything changes. Reload reads the file on disk (the deployment's copy),
checks it the same way, and only then asks the gateway to swap; a bad file
is refused with its problems and the rules in force stay. The reading,
checking and reloading are gateway/web/keywords_file.py's, shared with the
keywords page.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.web import keywords_file
from gateway.web.body import Strict
from gateway.web.errors import ApiError
from gateway.web.keywords_file import MAX_FILE_CHARS
from gateway.web.registry import Call, RouteTable

routes = RouteTable("keywords")


class KeywordsFile(Strict):
    text: str = Field(max_length=MAX_FILE_CHARS, description="the whole keywords.yaml")
    filename: str = Field("keywords.yaml", max_length=200, pattern=r"^[^/\\\x00-\x1f]+$")


@routes.get("/api/v1/keywords", name="keywords.view",
            summary="The keywords file the gateway reads (its text and checksum)")
async def view(call: Call) -> dict[str, Any]:
    return keywords_file.read_in_force(call.context)


@routes.post("/api/v1/keywords/validate", name="keywords.validate", body=KeywordsFile,
             summary="Check a keywords file (JSON {text}, a form upload or a text/yaml body)",
             description="Changes nothing. Answers valid and, if not, every problem with "
                         "its file, line and column.")
async def validate(call: Call) -> dict[str, Any]:
    body = call.body_as(KeywordsFile)
    return keywords_file.check_copy(body.text, body.filename)


@routes.post("/api/v1/keywords/reload", name="keywords.reload",
             summary="Re-read the keywords file on disk and swap it in, or say why not")
async def reload(call: Call) -> dict[str, Any]:
    path = call.context.settings.keywords
    done = await keywords_file.reload_everywhere(call.context, call.principal, call.client)
    if not done.swapped:
        raise ApiError(422, "invalid_keywords",
                       f"{path.name} has {len(done.problems)} problem(s); the rules in force "
                       "stay", extra={"problems": done.problems})
    return {"reloaded": True, "path": str(path)}
