"""The public side of tracked short links: `GET /l/{token}` (and HEAD) redirects.

A known token: the visit is recorded (broadcast/clicks.py decides whether it
was a person) and the answer is a 302 to the destination stored at send
time, exactly as written, its query string included. The answer is never
cached (each click must reach us) and sends no Referer onwards, so the token
does not leak to the campaign's site. An unknown token: a small 404 page in
the organization's language; tokens are random (broadcast/links.py), so a
near miss finds nothing either.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime

import asyncpg
from aiohttp import web

from gateway.broadcast.clicks import visit
from gateway.config import Settings
from gateway.plain_words import N_
from gateway.web.locale import translations
from gateway.web.public_headers import TOKEN_PAGE_HEADERS

LINK_PATH = "/l/{token}"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

UNKNOWN_TITLE = N_("Link not found")
UNKNOWN_TEXT = N_("This link does not exist or is mistyped. Check the address in the text "
                  "message you received.")


def add_short_link_routes(app: web.Application, *, pool: asyncpg.Pool, settings: Settings,
                          clock: Callable[[], datetime]) -> None:
    async def follow(request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        found = None
        if _TOKEN.match(token):
            async with pool.acquire() as conn:
                found = await visit(conn, token, user_agent=request.headers.get("User-Agent"),
                                    method=request.method, at=clock())
        if found is None:
            return _unknown(settings)
        return web.Response(status=302, headers={
            "Location": found.destination, "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"})

    app.router.add_get(LINK_PATH, follow)  # public; aiohttp answers HEAD with it too


def _unknown(settings: Settings) -> web.Response:
    words = translations(settings.organization_language)
    title = html.escape(words.gettext(UNKNOWN_TITLE))
    text = html.escape(words.gettext(UNKNOWN_TEXT))
    page = (f'<!doctype html><html lang="{settings.organization_language}"><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title>"
            f"<style>body{{font:1.1rem/1.5 system-ui,sans-serif;max-width:32rem;"
            f"margin:3rem auto;padding:0 1rem;color:#222}}</style>"
            f"<main><h1>{title}</h1><p>{text}</p></main></html>")
    return web.Response(status=404, text=page, content_type="text/html",
                        headers=dict(TOKEN_PAGE_HEADERS))
