"""A staff user's own time zone and language for the pages ("My settings").

Empty means "the organization's": the column stays NULL, so a later change
of GATEWAY_ORGANIZATION_TIMEZONE or _LANGUAGE reaches this user too. A zone
must be one tzdata knows (an IANA name such as America/Los_Angeles), so a
page never fails to show a time; a language one the pages are translated to.
"""

from __future__ import annotations

from typing import get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from gateway.engine.model import Language
from gateway.plain_words import N_, said
from gateway.services.errors import invalid, not_found
from gateway.store import users as user_store
from gateway.store.users import User

LANGUAGES: tuple[str, ...] = get_args(Language)


def checked_zone(text: str) -> str | None:
    name = text.strip()
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(said(N_("%(name)r is not a time zone; choose one from the list (an IANA name "
                              "such as America/New_York)"), name=name), field="time_zone") from None
    return name


def checked_language(text: str) -> str | None:
    code = text.strip()
    if not code:
        return None
    if code not in LANGUAGES:
        raise invalid(said(N_("%(code)r is not a language of the pages; choose %(languages)s"),
                           code=code, languages=' or '.join(LANGUAGES)), field="language")
    return code


async def save_preferences(conn: asyncpg.Connection, user_id: int, *, time_zone: str,
                           language: str) -> User:
    """Store what the form sent ('' = the organization's); the user as saved."""
    user = await user_store.set_preferences(conn, user_id, time_zone=checked_zone(time_zone),
                                            language=checked_language(language))
    if user is None:
        raise not_found(N_("user"))
    return user
