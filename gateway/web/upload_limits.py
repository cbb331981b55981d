"""Larger request bodies for the few routes that take a file bigger than the web app's 1 MiB.

Why per route: every other route reads a small JSON body or form, and the
web app's request limit keeps a stray client from making the server buffer
megabytes; the candidate's recorded message, though, is an audio file of a
few megabytes (GATEWAY_VOICE_MESSAGE_MAX_BYTES). The middleware gives only
these routes' requests a larger limit (aiohttp's `Request.clone`), before
any handler reads the body; the services still check the file's own size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from gateway.config import Settings
from gateway.web.context import context_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FORM_OVERHEAD: Final = 64 * 1024  # the other fields and the multipart or JSON framing
# route path -> its limit, from the settings
LARGER: Final[dict[str, Callable[[Settings], int]]] = {
    # base64 in JSON: four characters per three bytes
    "/api/v1/voice/messages": lambda s: s.voice_message_max_bytes * 4 // 3 + FORM_OVERHEAD,
    "/voice-line/messages": lambda s: s.voice_message_max_bytes + FORM_OVERHEAD,  # multipart
    # a contact file (docs/import.md): base64 in JSON, multipart on the page
    "/api/v1/imports": lambda s: s.import_max_bytes * 4 // 3 + FORM_OVERHEAD,
    "/imports": lambda s: s.import_max_bytes + FORM_OVERHEAD,
}


@web.middleware
async def upload_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    limit = LARGER.get(request.path) if request.method == "POST" else None
    if limit is None:
        return await handler(request)
    return await handler(request.clone(client_max_size=limit(context_of(request).settings)))
