"""The donor-details form behind the link a held gift's SMS carries (compliance rule 18).

`GET /give/details/{token}` shows a small server-rendered form asking for the
facts the hold needs (name and address; past $200 employer and occupation
too, with the best-efforts statement); `POST` to the same address checks
each field, says which one is wrong, and otherwise stores the details and
releases the held gifts (billing/details.py `receive_donor_details`, one
transaction). The next billing tick charges them.

Why no login: the supporter only has a phone and the link. The link's token
is 32 random bytes' worth (`secrets.token_urlsafe(24)`), stored only as its
SHA-256, and it works until the hold's own expiry (24 h) and only while its
gift is held; an unknown token gets 404 and an expired or finished one 410.
Nothing already on file is ever shown, so a link in the wrong hands cannot
read anyone's address.

CSRF: a POST must carry the same random value in a form field and in a
`SameSite=Strict`, HttpOnly cookie set by the GET (double submit): a form on
another site cannot send the cookie, nor read it. A POST whose `Origin` names
another host is refused too. Pages are `no-store`, never framed, send no
referrer (the token is in the address) and allow no script.
"""

from __future__ import annotations

import hmac
import html
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web

from gateway.billing.details import receive_donor_details, token_hash
from gateway.engine import Rules
from gateway.engine.donor_fields import (
    address_fields,
    parse_city,
    parse_name,
    parse_postal_code,
    parse_region,
    parse_street,
    parse_work,
)
from gateway.engine.model import Profile
from gateway.logs import get_logger
from gateway.store import donations as donation_store
from gateway.store.donations import DetailLink, DonorDetails
from gateway.web.public_headers import TOKEN_PAGE_HEADERS

DETAILS_PATH: Final = "/give/details/{token}"
CSRF_COOKIE: Final = "donor_details_csrf"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_HEADERS: Final = TOKEN_PAGE_HEADERS

log = get_logger(__name__)

# Field -> (label, what a wrong value gets told), per profile.
_LABELS: Final[dict[Profile, dict[str, tuple[str, str]]]] = {
    "us": {
        "name": ("Full name", "Enter your first and last name."),
        "street": ("Street address", "Enter a street address with its number."),
        "city": ("City", "Enter your city."),
        "region": ("State", "Enter a two-letter state code, like IL."),
        "postal_code": ("ZIP code", "Enter a 5-digit ZIP code, like 62701."),
        "employer": ("Employer", "Enter your employer (or self-employed, retired, "
                                 "not employed)."),
        "occupation": ("Occupation", "Enter your occupation."),
    },
    "fr": {
        "name": ("Nom et prénom", "Indiquez vos nom et prénom."),
        "street": ("Adresse", "Indiquez une adresse avec son numéro."),
        "city": ("Ville", "Indiquez votre ville."),
        "region": ("Région", ""),
        "postal_code": ("Code postal", "Indiquez un code postal à 5 chiffres."),
        "employer": ("Employeur", "Indiquez votre employeur."),
        "occupation": ("Profession", "Indiquez votre profession."),
    },
}
_WORDS: Final[dict[Profile, dict[str, str]]] = {
    "us": {
        "title": "Your donor details", "send": "Send my details",
        "intro": "For your gift of {amount} to {committee}, the law asks for:",
        "best_efforts": "Federal law requires us to use our best efforts to collect and "
                        "report the name, address, occupation and employer of individuals "
                        "whose contributions exceed $200 in an election cycle.",
        "fix": "Please correct: {fields}.",
        "thanks": "Thank you. {committee} has your details; your gift will now go through.",
        "saved": "Thank you. {committee} has your details.",
        "gone": "This link is no longer open. If you already sent your details, thank you: "
                "nothing more is needed. Otherwise, text GIVE to start again.",
        "unknown": "This link is not valid. Please use the link from our text message.",
        "stale": "This form has expired. Please open the link from our text message again.",
    },
    "fr": {
        "title": "Vos informations de donateur", "send": "Envoyer",
        "intro": "Pour votre don de {amount} à {committee}, la loi nous demande :",
        "best_efforts": "",
        "fix": "Merci de corriger : {fields}.",
        "thanks": "Merci. {committee} a bien vos informations ; votre don va suivre.",
        "saved": "Merci. {committee} a bien vos informations.",
        "gone": "Ce lien n'est plus ouvert. Si vous avez déjà envoyé vos informations, "
                "merci : rien d'autre n'est nécessaire. Sinon, renvoyez DON.",
        "unknown": "Ce lien n'est pas valide. Utilisez le lien reçu par SMS.",
        "stale": "Ce formulaire a expiré. Rouvrez le lien reçu par SMS.",
    },
}


def add_donor_details_routes(
    app: web.Application, *, pool: asyncpg.Pool, rules: Callable[[], Rules],
    cookie_secure: bool = True, clock: Callable[[], datetime] | None = None,
) -> None:
    """Mount GET and POST /give/details/{token}; `rules` returns the rules in force."""
    form = DonorDetailsForm(pool, rules, cookie_secure=cookie_secure,
                            clock=clock or (lambda: datetime.now(UTC)))
    app.router.add_get(DETAILS_PATH, form.show)
    app.router.add_post(DETAILS_PATH, form.submit)


class DonorDetailsForm:
    def __init__(self, pool: asyncpg.Pool, rules: Callable[[], Rules], *, cookie_secure: bool,
                 clock: Callable[[], datetime]) -> None:
        self._pool = pool
        self._rules = rules
        self._secure = cookie_secure
        self._now = clock

    async def show(self, request: web.Request) -> web.Response:
        link, problem = await self._open_link(request)
        if link is None:
            return problem
        csrf = secrets.token_urlsafe(24)
        response = self._form(request, link, csrf, {}, {}, status=200)
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, secure=self._secure,
                            samesite="Strict", path="/give/details/", max_age=24 * 3600)
        return response

    async def submit(self, request: web.Request) -> web.Response:
        profile: Profile = "us"
        if not _same_origin(request):
            return _page(profile, _WORDS[profile]["stale"], status=403)
        posted = await request.post()
        given = {k: str(v) for k, v in posted.items() if isinstance(v, str)}
        cookie = request.cookies.get(CSRF_COOKIE, "")
        csrf = given.get("csrf", "")
        link, problem = await self._open_link(request)
        if link is None:
            return problem
        profile = self._profile(link)
        if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
            log.warning("donor_details_csrf_refused", donation_id=link.donation_id)
            return _page(profile, _WORDS[profile]["stale"], status=403)
        values, errors = validate(link.needed, given, profile)
        if errors:
            return self._form(request, link, csrf, given, errors, status=400)
        now = self._now()
        async with self._pool.acquire() as conn, conn.transaction():
            released = await receive_donor_details(conn, DonorDetails(
                link.msisdn, link.committee, "web", now, donation_id=link.donation_id,
                **values), now=now)
        log.info("donor_details_received_on_web", donation_id=link.donation_id,
                 released=released)
        words = _WORDS[profile]
        text = words["thanks" if released else "saved"].format(committee=link.committee)
        response = _page(profile, text, status=200)
        response.del_cookie(CSRF_COOKIE, path="/give/details/")
        return response

    async def _open_link(self, request: web.Request
                         ) -> tuple[DetailLink | None, web.Response]:
        token = request.match_info.get("token", "")
        if not _TOKEN.match(token):
            return None, _page("us", _WORDS["us"]["unknown"], status=404)
        async with self._pool.acquire() as conn:
            link = await donation_store.get_detail_link(conn, token_hash(token))
        if link is None:
            return None, _page("us", _WORDS["us"]["unknown"], status=404)
        if link.expires_at <= self._now() or link.status != "awaiting_details":
            profile = self._profile(link)
            return None, _page(profile, _WORDS[profile]["gone"], status=410)
        return link, web.Response()

    def _profile(self, link: DetailLink) -> Profile:
        found = self._rules().donations.get(link.program)
        return found.profile if found is not None else "us"

    def _form(self, request: web.Request, link: DetailLink, csrf: str,
              given: Mapping[str, str], errors: Mapping[str, str], *, status: int
              ) -> web.Response:
        profile = self._profile(link)
        found = self._rules().donations.get(link.program)
        words, labels = _WORDS[profile], _LABELS[profile]
        amount = found.money(link.amount_cents) if found else f"{link.amount_cents / 100:.2f}"
        parts = [f"<p>{_e(words['intro'].format(amount=amount, committee=link.committee))}</p>"]
        if errors:
            names = ", ".join(labels[f][0] for f in errors)
            parts.append(f'<p class="error" role="alert">{_e(words["fix"].format(fields=names))}'
                         "</p>")
        parts.append(f'<form method="post" action="{_e(request.path)}">')
        parts.append(f'<input type="hidden" name="csrf" value="{_e(csrf)}">')
        for name in form_fields(link.needed, profile):
            label, _ = labels[name]
            error = errors.get(name)
            described = f' aria-invalid="true" aria-describedby="{name}-error"' if error else ""
            parts.append(f'<p><label for="{name}">{_e(label)}</label><br>'
                         f'<input id="{name}" name="{name}" maxlength="100" required '
                         f'value="{_e(given.get(name, ""))}"{described}>')
            if error:
                parts.append(f'<br><span class="error" id="{name}-error">{_e(error)}</span>')
            parts.append("</p>")
        if "employer" in link.needed and words["best_efforts"]:
            parts.append(f"<p><small>{_e(words['best_efforts'])}</small></p>")
        parts.append(f'<p><button type="submit">{_e(words["send"])}</button></p></form>')
        return _page(profile, "".join(parts), status=status, raw=True)


def form_fields(needed: tuple[str, ...] | frozenset[str], profile: Profile) -> list[str]:
    """The inputs the form shows for a hold's needed facts, in reading order."""
    names: list[str] = []
    if "name" in needed:
        names.append("name")
    if "address" in needed:
        names += ["street", "city"] + ([] if profile == "fr" else ["region"]) + ["postal_code"]
    names += [n for n in ("employer", "occupation") if n in needed]
    return names


def validate(needed: tuple[str, ...] | frozenset[str], given: Mapping[str, str],
             profile: Profile) -> tuple[dict[str, str], dict[str, str]]:
    """(donor_details values, field -> what is wrong); the parsers are the SMS dialog's."""
    labels = _LABELS[profile]
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    if "name" in needed:
        name = parse_name(given.get("name", ""))
        if name is None:
            errors["name"] = labels["name"][1]
        else:
            values["name"] = name
    if "address" in needed:
        checks = {"street": parse_street(given.get("street", "")),
                  "city": parse_city(given.get("city", "")),
                  "region": parse_region(given.get("region", ""), profile),
                  "postal_code": parse_postal_code(given.get("postal_code", ""), profile)}
        errors.update({name: labels[name][1] for name, value in checks.items() if value is None})
        if not errors.keys() & checks.keys():
            address = address_fields(str(checks["street"]), str(checks["city"]),
                                     str(checks["region"]), str(checks["postal_code"]),
                                     profile)
            values.update(address.values)
    for name in ("employer", "occupation"):
        if name in needed:
            value = parse_work(given.get(name, ""))
            if value is None:
                errors[name] = labels[name][1]
            else:
                values[name] = value
    return values, errors


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # the cookie check stands alone (older browsers omit Origin)
    host = urlsplit(origin).netloc
    allowed = {request.host, request.headers.get("X-Forwarded-Host", "")}
    return bool(host) and host in allowed


def _page(profile: Profile, body: str, *, status: int, raw: bool = False) -> web.Response:
    words = _WORDS[profile]
    content = body if raw else f"<p>{_e(body)}</p>"
    lang = "fr" if profile == "fr" else "en"
    document = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(words['title'])}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}input{width:100%;padding:.4rem;font-size:1rem}"
        "button{padding:.5rem 1rem;font-size:1rem}.error{color:#b00020}"
        f"</style></head><body><h1>{_e(words['title'])}</h1>{content}</body></html>")
    return web.Response(text=document, status=status, content_type="text/html",
                        charset="utf-8", headers=_HEADERS)


def _e(text: str) -> str:
    return html.escape(text, quote=True)
