"""The public pages behind the links in our e-mail: confirm a subscription, unsubscribe.

    GET  /mail/confirm/{token}       a page with the statement and a button (nothing changes)
    POST /mail/confirm/{token}       the button: the subscription is confirmed, once
    GET  /mail/unsubscribe/{token}   a page with a button
    POST /mail/unsubscribe/{token}   the button, or RFC 8058 one-click
                                     (body `List-Unsubscribe=One-Click`): 200 at once

Why no login, cookie or CSRF token: the token in the address is the only
credential (a confirmation token is 32 random bytes stored as its hash; an
unsubscribe token is signed, gateway/unsubscribe_link.py), and a forged form
on another site cannot know it. RFC 8058 forbids asking a one-click POST for
anything else. Why a button even so: link scanners open every link in a
mail, and must neither confirm nor unsubscribe anyone.

The rules are gateway/email_consent/; this module only turns their answers
into pages in the citizen's language (texts/*.toml). A confirmation of a
request from a form post that named a mobile number also asks
services/persons `link_form_channels` whether that number said yes by SMS
too, in the same transaction (one person, docs/contact-centre.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import asyncpg
import jinja2
from aiohttp import web

from gateway.clock import Clock
from gateway.config import Settings
from gateway.email_consent import confirm, open_confirmation, unsubscribe
from gateway.email_consent.opt_in import CONFIRM_PATH, ConfirmLink
from gateway.email_consent.texts import (
    LANGUAGES,
    Language,
    as_language,
    language_of,
    masked,
    texts,
)
from gateway.engine import Rules
from gateway.logs import get_logger
from gateway.services import persons
from gateway.store import address_consent as store
from gateway.unsubscribe_link import PATH_PREFIX, BadLink, LinkKeyMissing, read_token
from gateway.web.public_headers import TOKEN_PAGE_HEADERS

log = get_logger(__name__)

CONFIRM_ROUTE: Final = CONFIRM_PATH + "{token}"
UNSUBSCRIBE_ROUTE: Final = PATH_PREFIX + "{token}"
_CONFIRM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_HEADERS: Final = TOKEN_PAGE_HEADERS
_STATUS: Final = {"open": 200, "confirmed": 200, "already_confirmed": 200, "expired": 410,
                  "closed": 410, "unknown": 404}


def add_mail_consent_routes(app: web.Application, *, pool: asyncpg.Pool, settings: Settings,
                            rules: Callable[[], Rules], clock: Clock) -> None:
    """Mount the four routes; `rules` returns the keywords file in force (program names)."""
    pages = MailConsentPages(pool, settings, rules, clock)
    app.router.add_get(CONFIRM_ROUTE, pages.show_confirm)
    app.router.add_post(CONFIRM_ROUTE, pages.confirm)
    app.router.add_get(UNSUBSCRIBE_ROUTE, pages.show_unsubscribe)
    app.router.add_post(UNSUBSCRIBE_ROUTE, pages.unsubscribe)


class MailConsentPages:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, rules: Callable[[], Rules],
                 clock: Clock) -> None:
        self._pool = pool
        self._settings = settings
        self._rules = rules
        self._now = clock
        self._templates = jinja2.Environment(
            loader=jinja2.PackageLoader("gateway.web", "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined)

    async def show_confirm(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if not _CONFIRM_TOKEN.match(token):
            return self._link_page(ConfirmLink("unknown"), request.path)
        async with self._pool.acquire() as conn:
            link = await open_confirmation(conn, token, self._now())
        return self._link_page(link, request.path)

    async def confirm(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if not _CONFIRM_TOKEN.match(token):
            return self._link_page(ConfirmLink("unknown"), request.path)
        now = self._now()
        async with self._pool.acquire() as conn, conn.transaction():
            link = await confirm(conn, self._rules(), token=token, now=now,
                                 client_ip=request.remote)
            found = link.token
            if link.status == "confirmed" and found is not None and link.event_id is not None \
                    and found.web_submission_id is not None:
                await persons.link_form_channels(  # the form's mobile, if it said yes too
                    conn, web_message_id=found.web_submission_id, email=found.address,
                    program=found.program, email_consent_id=link.event_id, now=now)
        return self._link_page(link, request.path)

    async def show_unsubscribe(self, request: web.Request) -> web.Response:
        found = self._read(request)
        if isinstance(found, web.Response):
            return found
        address, program = found
        language = await self._language(address, program)
        words = texts(language)
        name = self._name(program)
        return self._page(language, words.say("page", "unsubscribe_title"), [], action=request.path,
                          form={"statement": words.say("page", "unsubscribe_statement",
                                                       program=name),
                                "address": words.say("page", "address",
                                                     address=masked(address)),
                                "button": words.say("page", "unsubscribe_button")})

    async def unsubscribe(self, request: web.Request) -> web.Response:
        found = self._read(request)
        if isinstance(found, web.Response):
            return found
        address, program = found
        posted = await request.post()
        one_click = posted.get("List-Unsubscribe") == "One-Click"
        language = await self._language(address, program)
        async with self._pool.acquire() as conn:
            await unsubscribe(conn, address=address, program=program,
                              source="list_unsubscribe" if one_click else "unsubscribe_link",
                              now=self._now(), program_name=self._name(program))
        words = texts(language)
        if one_click:
            return web.Response(text=words.say("page", "one_click"), headers=_HEADERS)
        return self._page(language, words.say("page", "unsubscribed_title"),
                          [words.say("page", "unsubscribed", program=self._name(program))])

    def _read(self, request: web.Request) -> tuple[str, str] | web.Response:
        try:
            return read_token(self._settings, request.match_info["token"])
        except BadLink:
            return self._bilingual("unknown", status=404)
        except LinkKeyMissing:
            log.error("unsubscribe_link_key_missing")
            return self._bilingual("unavailable", status=503)

    def _link_page(self, link: ConfirmLink, action: str) -> web.Response:
        token = link.token
        if token is None:
            return self._bilingual("unknown", status=_STATUS["unknown"])
        language = as_language(token.language)
        words = texts(language)
        name = self._name(token.program)
        status = link.status
        if status == "open":
            return self._page(language, words.say("page", "confirm_title"), [], action=action,
                              form={"statement": words.say("page", "confirm_statement",
                                                           program=name),
                                    "address": words.say("page", "address",
                                                         address=masked(token.address)),
                                    "button": words.say("page", "confirm_button")},
                              privacy_url=token.privacy_url)
        title, text = {"confirmed": ("confirmed_title", "confirmed"),
                       "already_confirmed": ("confirmed_title", "already_confirmed"),
                       "expired": ("expired_title", "expired"),
                       "closed": ("closed_title", "closed")}[status]
        return self._page(language, words.say("page", title),
                          [words.say("page", text, program=name)], status=_STATUS[status])

    def _bilingual(self, key: str, *, status: int) -> web.Response:
        """A page for a link we cannot read: we do not know the citizen's language."""
        both = [texts(language) for language in LANGUAGES]
        return self._page("en", " · ".join(w.say("page", f"{key}_title") for w in both),
                          [w.say("page", key) for w in both], status=status)

    async def _language(self, address: str, program: str) -> Language:
        """The language the address was written to, else the program's."""
        async with self._pool.acquire() as conn:
            found = await store.subscription(conn, address, program)
        if found is not None:
            return as_language(found.language)
        known = self._rules().programs.get(program)
        return language_of(known) if known is not None else "en"

    def _name(self, program: str) -> str:
        known = self._rules().programs.get(program)
        return known.name if known is not None else program

    def _page(self, language: Language, title: str, paragraphs: list[str], *,
              status: int = 200, action: str = "", form: dict[str, str] | None = None,
              privacy_url: str | None = None) -> web.Response:
        values: dict[str, Any] = {
            "lang": language, "title": title, "paragraphs": paragraphs, "form": form,
            "action": action, "privacy_url": privacy_url,
            "privacy_label": texts(language).say("page", "privacy")}
        html = self._templates.get_template("mail_consent.html").render(**values)
        return web.Response(text=html, status=status, content_type="text/html",
                            charset="utf-8", headers=_HEADERS)
