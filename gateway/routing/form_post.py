"""What a post of the public form must hold, checked field by field; no I/O.

Why codes and not sentences: the page says each problem in the form's
language next to its field (gateway/web/write_texts.py words them), and the
same check must hold whatever the page looks like. The rules: a theme among
the program's (a choice, never free text), a message that is not empty and
not over the limit, at most one name, and a way to answer: an e-mail
address (gateway/email_address.py) and/or a mobile number (gateway/phone.py,
read in the program's country). Nothing typed is changed but spaces at the
ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from gateway.email_address import EmailAddressError, normalize_email
from gateway.engine.model import Language, Profile
from gateway.phone import InvalidNumber, to_e164

MAX_NAME_CHARS: Final = 200
MAX_FIELD_CHARS: Final = 320  # an address or a number
REGIONS: Final[dict[Profile, str]] = {"fr": "FR", "us": "US"}

ProblemCode = Literal["theme_missing", "message_missing", "message_too_long", "name_too_long",
                      "email_invalid", "mobile_invalid", "contact_missing"]


@dataclass(frozen=True, slots=True)
class FormFields:
    """The post as typed (strings from the request)."""

    theme: str = ""
    message: str = ""
    name: str = ""
    email: str = ""
    mobile: str = ""
    campaign_box: bool = False


@dataclass(frozen=True, slots=True)
class FormPost:
    """A post whose every field passed."""

    language: Language
    theme: str
    message: str
    name: str | None
    email: str | None
    msisdn: str | None
    campaign_box: bool


def validate(fields: FormFields, *, language: Language, themes: Mapping[str, str],
             profile: Profile, max_chars: int) -> FormPost | dict[str, ProblemCode]:
    """The checked post, or field name -> what is wrong with it."""
    problems: dict[str, ProblemCode] = {}
    theme = fields.theme.strip()
    if theme not in themes:
        problems["theme"] = "theme_missing"
    message = fields.message.strip()
    if not message:
        problems["message"] = "message_missing"
    elif len(message) > max_chars:
        problems["message"] = "message_too_long"
    name = " ".join(fields.name.split())
    if len(name) > MAX_NAME_CHARS:
        problems["name"] = "name_too_long"
    email = _email(fields.email, problems)
    msisdn = _mobile(fields.mobile, profile, problems)
    if email is None and msisdn is None and not problems.keys() & {"email", "mobile"}:
        problems["email"] = "contact_missing"
    if problems:
        return problems
    return FormPost(language=language, theme=theme, message=message, name=name or None,
                    email=email, msisdn=msisdn, campaign_box=fields.campaign_box)


def _email(text: str, problems: dict[str, ProblemCode]) -> str | None:
    if not text.strip():
        return None
    try:
        return normalize_email(text[:MAX_FIELD_CHARS])
    except EmailAddressError:
        problems["email"] = "email_invalid"
        return None


def _mobile(text: str, profile: Profile, problems: dict[str, ProblemCode]) -> str | None:
    if not text.strip():
        return None
    try:
        return to_e164(text[:MAX_FIELD_CHARS], default_region=REGIONS[profile])
    except InvalidNumber:
        problems["mobile"] = "mobile_invalid"
        return None
