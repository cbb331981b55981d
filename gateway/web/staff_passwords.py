"""A staff password to store: the rules checked, hashed in the hashing threads, or made here.

Why one function for the API and the pages: the password rules
(credentials.check_password_rules), the hashing threads and their 429 when
all are busy (password_work.py) must answer the same whether an admin sets a
password through the API or resets one on the users page.

A reset on the page makes the new password itself (`new_password`): the
admin reads it once and hands it over; nobody has to type a secret into a
form that a shoulder or a browser history could keep.
"""

from __future__ import annotations

import secrets
from typing import Final

from aiohttp import web

from gateway.plain_words import N_, reason
from gateway.web.credentials import WeakPassword, check_password_rules
from gateway.web.errors import ApiError, bad_request
from gateway.web.password_work import Busy, password_work

# 15 random bytes: 20 URL-safe characters, 120 bits; past MIN_PASSWORD_LENGTH with room
NEW_PASSWORD_BYTES: Final = 15


def new_password() -> str:
    """A random password that passes the rules."""
    password = secrets.token_urlsafe(NEW_PASSWORD_BYTES)
    check_password_rules(password)
    return password


async def checked_hash(request: web.Request, password: str) -> str:
    """The argon2 hash of `password`; 400 naming the rule it breaks, 429 when all are busy."""
    try:
        check_password_rules(password)
    except WeakPassword as err:
        raise bad_request(reason(err), field="password") from None
    work = password_work(request)
    try:
        with work.admit():
            return await work.hash(password)
    except Busy:
        raise ApiError(429, "busy", N_("too many passwords are being hashed; try again in a "
                                       "moment"), headers={"Retry-After": "1"}) from None
