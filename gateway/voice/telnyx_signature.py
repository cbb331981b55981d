"""Is this request from Telnyx? Its TeXML webhooks' Ed25519 signature, checked with `cryptography`.

Telnyx signs `"{telnyx-timestamp}|{raw body}"` with its account's private key
and sends the base64 signature in `telnyx-signature-ed25519`; the account's
public key (base64, shown in the Telnyx portal) checks it. Unlike Twilio's
HMAC, the signature covers the time it was made and not the URL, so a
captured request could be sent again later: a timestamp outside the replay
window (GATEWAY_VOICE_SIGNATURE_MAX_AGE, either side of the injected clock)
is refused even with a valid signature. Within the window a replay is
harmless (every step is idempotent on the call's id and step).

Why `cryptography` and not a hand-written check: Ed25519 verification is
exactly the kind of code one must not write oneself; `cryptography` is the
maintained binding to OpenSSL's, and a well-kept dependency of most of the
Python ecosystem.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_HEADER: Final = "telnyx-signature-ed25519"
TIMESTAMP_HEADER: Final = "telnyx-timestamp"
KEY_BYTES: Final = 32
MAX_HEADER: Final = 200  # a base64 signature is 88 characters; a timestamp ten digits

Verdict = Literal["ok", "unsigned", "bad_signature", "stale"]


def public_key_of(text: str) -> Ed25519PublicKey:
    """The account's public key from its base64 text; ValueError saying what is wrong."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64 (copy the public key from the Telnyx portal)") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {KEY_BYTES} bytes, this one is {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def verdict(key: Ed25519PublicKey, body: bytes, headers: Mapping[str, str], *,
            now: datetime, max_age: int) -> Verdict:
    """"ok" when `headers` carry Telnyx's valid signature of `body`, made within `max_age`
    seconds of `now`; else why not (a valid signature made too long ago is "stale")."""
    signature_text = headers.get(SIGNATURE_HEADER, "").strip()
    stamp = headers.get(TIMESTAMP_HEADER, "").strip()
    if not signature_text or not stamp:
        return "unsigned"
    if len(signature_text) > MAX_HEADER or len(stamp) > MAX_HEADER or not stamp.isdecimal():
        return "bad_signature"
    try:
        signature = base64.b64decode(signature_text, validate=True)
        key.verify(signature, stamp.encode("ascii") + b"|" + body)
    except (binascii.Error, ValueError, InvalidSignature):
        return "bad_signature"
    if abs(now.timestamp() - int(stamp)) > max_age:
        return "stale"
    return "ok"
