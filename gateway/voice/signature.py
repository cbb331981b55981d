"""Is this request from our voice provider? The official `twilio` library's `RequestValidator`.

Why the library: the provider's signature is an HMAC over the URL it
requested and the form fields, with quirks (a URL signed with or without
its default port, the SHA-256 variant named by a settings header) that the
provider's own code handles and a copy would drift from.

Why the URL comes from the settings (`Settings.voice_url`) and not from the
request's Host header: behind a proxy or a load balancer the gateway sees
its own address, while the provider signed the public one; and a Host
header is the caller's to choose.
"""

from __future__ import annotations

from collections.abc import Mapping

from multidict import MultiMapping
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

__all__ = ["SIGNATURE_HEADER", "signature_of", "signed"]


def signed(token: str, url: str, form: MultiMapping[str], headers: Mapping[str, str]) -> bool:
    """True when `headers` carry the provider's valid signature of `url` and `form`."""
    signature = headers.get(SIGNATURE_HEADER)
    if not signature or not token:
        return False
    algorithm = get_signature_algorithm(headers.get(SIGNATURE_SETTINGS_HEADER))
    return bool(RequestValidator(token).validate(url, form, signature, algorithm=algorithm))


def signature_of(token: str, url: str, form: Mapping[str, str]) -> str:
    """The signature the provider would send: what the call simulator signs its requests with."""
    return str(RequestValidator(token).compute_signature(url, form))
