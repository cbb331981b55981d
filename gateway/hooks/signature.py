"""The signature on every delivery: HMAC-SHA256 over `timestamp.body`, Stripe's shape.

Why this shape: a receiver that already verifies Stripe's `Stripe-Signature`
verifies ours with the same few lines (docs/webhooks.md shows them, stdlib
only). The timestamp is signed with the body, so a captured request cannot be
replayed after the receiver's tolerance window, and `v1=` leaves room for a
second scheme (or a second secret during a rotation) in one header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

SIGNATURE_HEADER: Final = "Webhook-Signature"
EVENT_ID_HEADER: Final = "Webhook-Id"
TIMESTAMP_HEADER: Final = "Webhook-Timestamp"
EVENT_TYPE_HEADER: Final = "Webhook-Event"
SCHEME: Final = "v1"
SECRET_PREFIX: Final = "whsec_"
TOLERANCE_SECONDS: Final = 300  # the replay window docs/webhooks.md recommends


class SignatureError(ValueError):
    """A delivery whose signature header is missing, malformed, stale or wrong."""


def new_secret() -> str:
    """A subscription's signing secret: 32 random bytes, URL-safe, recognisable."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `{timestamp}.{body}` with the secret's UTF-8 bytes."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes, *older: str) -> str:
    """`t=...,v1=...`, with one more `v1=` per `older` secret (a rotation's grace)."""
    return ",".join([f"t={timestamp}", *(f"{SCHEME}={sign(key, timestamp, body)}"
                                         for key in (secret, *older))])


def verify(secret: str, header: str, body: bytes, *, now: float,
           tolerance: float = TOLERANCE_SECONDS) -> int:
    """The signed timestamp if `header` signs `body` with `secret` within `tolerance`."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdecimal():
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"{SIGNATURE_HEADER} has no t=... or no {SCHEME}=... part")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"{SIGNATURE_HEADER} timestamp is {now - timestamp:.0f} s away "
                             f"from now (more than {tolerance:.0f} s): a replay or a clock off")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError(f"no {SCHEME} signature in {SIGNATURE_HEADER} matches the body")
    return timestamp
