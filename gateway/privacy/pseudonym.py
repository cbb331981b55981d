"""The keyed hash that outlives an erased number, and the pseudonym made from it.

Why keyed (HMAC) rather than a plain hash: there are only about 10^10 US
mobile numbers, so a plain SHA-256 of one is reversed by trying them all in
minutes. Without the key, the hash says nothing; with it, the gateway can
still recognise an erased number that opted out when it texts again.

The pseudonym that replaces the number in kept records (donations, consent
proof, settlement lines) is derived from the same hash, so one person's kept
records still add up together (a donor's aggregate) without naming them.
"""

from __future__ import annotations

import hashlib
import hmac

PSEUDONYM_PREFIX = "erased:"


class PrivacyKeyMissing(RuntimeError):
    """Erasure needs GATEWAY_PRIVACY_HASH_SECRET to keep the opt-out."""


def number_hash(key: bytes, msisdn: str) -> str:
    if not key:
        raise PrivacyKeyMissing(
            "GATEWAY_PRIVACY_HASH_SECRET is not set: an erased number's opt-out is kept as a "
            "keyed hash, and there is no key to make it with"
        )
    return hmac.new(key, msisdn.encode(), hashlib.sha256).hexdigest()


def pseudonym_of(digest: str) -> str:
    """'erased:' and 32 hex digits (128 bits): unique in practice, short in a report."""
    return PSEUDONYM_PREFIX + digest[:32]


def email_pseudonym(digest: str) -> str:
    """The pseudonym where an e-mail address stood: still address-shaped, because the
    mail tables' columns must hold one ('erased:<32 hex>@erased.invalid'; RFC 2606
    keeps .invalid undeliverable). `digest` is `number_hash` of the normalized address:
    the same keyed hash, whatever the channel."""
    return pseudonym_of(digest) + "@erased.invalid"


def is_pseudonym(value: str) -> bool:
    return value.startswith(PSEUDONYM_PREFIX)
