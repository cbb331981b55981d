"""The unsubscribe link every bulk mail carries: one per (address, program), signed.

Why signed rather than stored: a newsletter to 50,000 subscribers builds
50,000 links while it queues them, and the sender checks each row's program
at send time; a keyed signature needs no table read for either, and a link
made a year ago still works as long as the key does. Why the address is in
the link (base64, not in clear): the link only ever travels in a mail to that
very address, and reading it back needs no lookup. Nobody can forge a link
for someone else's address without the key (`GATEWAY_MAIL_LINK_SECRET`).

The program is readable without the key (`program_of_url`): the sender's
suppression check asks "is this address still subscribed to the program this
mail's own unsubscribe link names?", so the link and the check cannot
disagree about which list a mail belongs to.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Final
from urllib.parse import urlsplit

from gateway.config import Settings

PATH_PREFIX: Final = "/mail/unsubscribe/"
_SIGNATURE_BYTES: Final = 16  # 128 bits: forging one is as hard as guessing a random token
_CONTEXT: Final = b"gateway unsubscribe link v1\n"


class LinkKeyMissing(RuntimeError):
    """No GATEWAY_MAIL_LINK_SECRET: no unsubscribe link can be made, so no bulk mail."""


class BadLink(ValueError):
    """The token is not one of ours (malformed, or its signature does not match)."""


def unsubscribe_url(settings: Settings, address: str, program: str) -> str:
    """The absolute link (settings.public_url) that unsubscribes `address` from `program`.

    `address` must already be in normalize_email's form: the link names it exactly.
    """
    return settings.public_url(PATH_PREFIX + make_token(_key(settings), address, program))


def make_token(key: bytes, address: str, program: str) -> str:
    payload = _b64(f"{program}\n{address}".encode())
    return f"{payload}.{_b64(_signature(key, payload))}"


def read_token(settings: Settings, token: str) -> tuple[str, str]:
    """(address, program) of a token we signed; BadLink otherwise."""
    payload, signature = _split(token)
    expected = _signature(_key(settings), payload)
    # compared as text, not as decoded bytes: base64's last character carries spare
    # bits, so two spellings decode alike; only the one we wrote is our link
    if not hmac.compare_digest(signature.encode(), _b64(expected).encode()):
        raise BadLink("the unsubscribe link's signature does not match")
    return _fields(payload)


def program_of_url(url: str | None) -> str | None:
    """The program an unsubscribe URL of ours names, unchecked; None for any other URL."""
    if not url:
        return None
    path = urlsplit(url).path
    if PATH_PREFIX not in path:
        return None
    try:
        payload, _ = _split(path.rsplit("/", 1)[1])
        return _fields(payload)[1]
    except BadLink:
        return None


def _key(settings: Settings) -> bytes:
    secret = settings.mail_link_secret
    if secret is None or not secret.get_secret_value():
        raise LinkKeyMissing(
            "GATEWAY_MAIL_LINK_SECRET is not set: unsubscribe links are signed with it, and "
            "bulk mail cannot go out without one")
    return secret.get_secret_value().encode()


def _signature(key: bytes, payload: str) -> bytes:
    return hmac.new(key, _CONTEXT + payload.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _split(token: str) -> tuple[str, str]:
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise BadLink("not an unsubscribe link token")
    return payload, signature


def _fields(payload: str) -> tuple[str, str]:
    try:
        program, newline, address = _unb64(payload).decode().partition("\n")
    except UnicodeDecodeError:
        raise BadLink("not an unsubscribe link token") from None
    if not newline or not program or "@" not in address:
        raise BadLink("not an unsubscribe link token")
    return address, program


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadLink("not an unsubscribe link token") from None
