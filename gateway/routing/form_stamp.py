"""The public form's stamp: when the form was shown, signed, and a nonce naming the form.

Why a signed timestamp and no stored state: showing the form to anyone must
cost nothing (no row per page view, nothing a crawler can fill). The stamp
`<unix seconds>.<nonce>.<HMAC-SHA256>` travels in a hidden field; a post
whose stamp is younger than the minimum fill time came from a robot's
speed, one older than the maximum age from a page left open for days, and
one whose signature does not match was not made here. The nonce becomes the
stored post's `form_nonce`, so the same form sent twice is one post.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

StampProblem = Literal["invalid", "too_fast", "expired"]


@dataclass(frozen=True, slots=True)
class Stamp:
    issued: int  # unix seconds
    nonce: str


def issue(key: bytes, now: datetime) -> str:
    issued = int(now.timestamp())
    nonce = secrets.token_urlsafe(16)
    return f"{issued}.{nonce}.{_mac(key, issued, nonce)}"


def check(key: bytes, stamp: str, now: datetime, *, min_seconds: float,
          max_age: float) -> Stamp | StampProblem:
    parts = stamp.strip().split(".")
    if len(parts) != 3 or not parts[0].isdecimal() or len(parts[0]) > 12:
        return "invalid"
    issued, nonce, mac = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(mac, _mac(key, issued, nonce)):
        return "invalid"
    age = now.timestamp() - issued
    if age < min_seconds:
        return "too_fast"
    if age > max_age:
        return "expired"
    return Stamp(issued, nonce)


def _mac(key: bytes, issued: int, nonce: str) -> str:
    return hmac.new(key, f"write-form:{issued}.{nonce}".encode(), hashlib.sha256).hexdigest()
