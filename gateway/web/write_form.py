"""The public form `/write`: anyone writes to the campaign, in French or English, no login.

`GET /write` shows the form in the language `?lang=` names, else the one
the browser prefers of French and English, else the program's. `POST
/write` checks the post (routing/form_post.py), stores it and takes it in
like an e-mail (routing/form_submit.py), then thanks; a wrong field is
said next to it in the form's language, with everything typed kept.

Spam defences, none of them a third party's: a honeypot field people do not
see (a post that fills it is thanked and dropped, so a robot learns
nothing), a signed timestamp with a minimum fill time and a maximum age
(routing/form_stamp.py), rate limits per client address and per citizen
address kept in PostgreSQL, and size limits (the message's characters
here; the whole request is capped by aiohttp's 1 MiB). A post whose
`Origin` names another site is refused.

This module is the HTTP edge only: the words are gateway/web/write_texts.py
and keywords.yaml's, the rules are gateway/routing/'s.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import asyncpg
import jinja2
from aiohttp import web

from gateway.config import Settings
from gateway.engine import Rules
from gateway.engine.model import Language
from gateway.engine.written import language_of
from gateway.knowledge.placement import themes_of
from gateway.logs import get_logger
from gateway.routing import form_stamp
from gateway.routing.form_post import FormFields, FormPost, validate
from gateway.routing.form_submit import Limits, box_shown, submit
from gateway.routing.intake import Routing
from gateway.routing.outgoing import Sender
from gateway.routing.programs import form_program
from gateway.web.public_headers import public_headers
from gateway.web.write_texts import WORDS

WRITE_PATH: Final = "/write"
HONEYPOT: Final = "website"
LANGUAGES: Final[tuple[Language, ...]] = ("fr", "en")
_HEADERS: Final = public_headers(sources="style-src 'self'; img-src 'self'",
                                 referrer="same-origin")
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined)

log = get_logger("gateway.web.write")


@dataclass(frozen=True, slots=True)
class WriteForm:
    pool: asyncpg.Pool
    rules: Callable[[], Rules]
    settings: Settings
    clock: Callable[[], datetime]
    key: bytes  # signs stamps, hashes the rate limits' keys
    wake_outbox: Callable[[], None] | None = None  # an SMS acknowledgement goes out now


def add_write_form_routes(app: web.Application, *, pool: asyncpg.Pool,
                          rules: Callable[[], Rules], settings: Settings,
                          clock: Callable[[], datetime],
                          wake_outbox: Callable[[], None] | None = None) -> None:
    """Mount GET and POST /write (when GATEWAY_WRITE_FORM_ENABLED)."""
    secret = settings.write_form_secret
    key = secret.get_secret_value().encode() if secret else secrets.token_bytes(32)
    form = WriteForm(pool, rules, settings, clock, key, wake_outbox)
    app.router.add_get(WRITE_PATH, form_page(form))
    app.router.add_post(WRITE_PATH, form_post(form))


def form_page(form: WriteForm) -> Callable[[web.Request], Any]:
    async def show(request: web.Request) -> web.Response:
        rules = form.rules()
        program = form_program(form.settings, rules)
        return _form(form, rules, program, _language(request, rules, program), status=200)
    return show


def form_post(form: WriteForm) -> Callable[[web.Request], Any]:
    async def post(request: web.Request) -> web.Response:
        rules = form.rules()
        program = form_program(form.settings, rules)
        posted = await request.post()
        given = {k: v for k, v in posted.items() if isinstance(v, str)}
        language = _chosen(given.get("lang")) or _language(request, rules, program)
        if not _same_origin(request):
            return _form(form, rules, program, language, status=403, given=given,
                         problem="form_expired")
        if given.get(HONEYPOT, "").strip():
            log.info("write_form_honeypot")
            return _thanks(rules, program, language, by_email=True)
        now = form.clock()
        settings = form.settings
        stamp = form_stamp.check(form.key, given.get("stamp", ""), now,
                                 min_seconds=settings.write_form_min_seconds,
                                 max_age=settings.write_form_max_age)
        if not isinstance(stamp, form_stamp.Stamp):
            log.info("write_form_stamp_refused", problem=stamp)
            return _form(form, rules, program, language, status=400, given=given,
                         problem="too_fast" if stamp == "too_fast" else "form_expired")
        fields = FormFields(theme=given.get("theme", ""), message=given.get("message", ""),
                            name=given.get("name", ""), email=given.get("email", ""),
                            mobile=given.get("mobile", ""),
                            campaign_box=given.get("campaign_box") == "yes")
        checked = validate(fields, language=language, themes=themes_of(rules, program),
                           profile=rules.programs[program].profile,
                           max_chars=settings.write_form_max_chars)
        if not isinstance(checked, FormPost):
            return _form(form, rules, program, language, status=400, given=given,
                         errors=checked)
        result = await submit(
            form.pool, rules,
            Routing(Sender.of(settings), settings.mail_route_knowledge_max_words),
            Limits(form.key, settings.write_form_per_ip_per_hour,
                   settings.write_form_per_address_per_hour),
            program=program, post=checked, nonce=stamp.nonce,
            client=request.remote or "unknown", now=now, settings=settings)
        if result.outcome == "too_many":
            log.info("write_form_rate_limited", program=program)
            return _form(form, rules, program, language, status=429, given=given,
                         problem="too_many")
        log.info("write_form_received", web_message_id=result.web_message_id,
                 outcome=result.outcome, route=result.route, question_id=result.question_id)
        if checked.email is None and form.wake_outbox is not None:
            form.wake_outbox()  # the SMS acknowledgement, now rather than at the next poll
        return _thanks(rules, program, language, by_email=checked.email is not None)
    return post


def _form(form: WriteForm, rules: Rules, program: str, language: Language, *, status: int,
          given: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None,
          problem: str | None = None) -> web.Response:
    words = WORDS[language]
    themes = themes_of(rules, program)
    if not themes:
        return _render(language, status=503, words=words, program=program, unavailable=True,
                       thanks=None)
    said = {field: words[code].format(max=form.settings.write_form_max_chars)
            for field, code in (errors or {}).items()}
    box = box_shown(rules, program, language)
    values = dict(given or {})
    return _render(
        language, status=status, words=words, program=rules.programs[program].name,
        thanks=None, unavailable=False, themes=themes,
        intro=words["intro"].format(program=rules.programs[program].name),
        stamp=form_stamp.issue(form.key, form.clock()),
        max_chars=form.settings.write_form_max_chars,
        given={name: values.get(name, "") for name in
               ("theme", "message", "name", "email", "mobile", "campaign_box")},
        errors={name: said.get(name) for name in ("theme", "message", "name", "email",
                                                  "mobile")},
        form_error=words[problem] if problem else (words["fix"] if said else None),
        box=box[0] if box else None, privacy_url=rules.programs[program].privacy_url)


def _thanks(rules: Rules, program: str, language: Language, *, by_email: bool) -> web.Response:
    words = WORDS[language]
    return _render(language, status=200, words=words, program=rules.programs[program].name,
                   unavailable=False,
                   thanks=words["thanks_email" if by_email else "thanks_sms"])


def _render(language: Language, *, status: int, **values: Any) -> web.Response:
    other = "en" if language == "fr" else "fr"
    text = _TEMPLATES.get_template("write.html").render(lang=language, other_lang=other,
                                                        **values)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers=_HEADERS)


def _language(request: web.Request, rules: Rules, program: str) -> Language:
    """?lang=, else the browser's first preference of ours, else the program's language."""
    chosen = _chosen(request.query.get("lang"))
    if chosen is not None:
        return chosen
    for language in _accepted(request.headers.get("Accept-Language", "")):
        if (found := _chosen(language)) is not None:
            return found
    return language_of(rules.programs[program])


def _chosen(value: str | None) -> Language | None:
    wanted = (value or "").strip().lower()[:2]
    return next((language for language in LANGUAGES if language == wanted), None)


def _accepted(header: str) -> list[str]:
    """Accept-Language's tags, most wanted first (`q=0` ones dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # the signed stamp stands alone (older browsers omit Origin)
    host = urlsplit(origin).netloc
    return bool(host) and host in {request.host, request.headers.get("X-Forwarded-Host", "")}
