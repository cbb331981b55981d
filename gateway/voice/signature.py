"""Is this request from our voice provider? One check per provider's scheme, chosen by a setting.

Three schemes, named by GATEWAY_VOICE_SIGNATURE_SCHEME:
  twilio      X-Twilio-Signature: base64 HMAC-SHA1 (or SHA-256) of the URL and the sorted
              form fields, keyed with the auth token (GATEWAY_VOICE_AUTH_TOKEN).
  signalwire  the same HMAC (SignalWire's Compatibility/cXML API signs as Twilio does, with
              the project's Signing Key in GATEWAY_VOICE_AUTH_TOKEN), in X-SignalWire-Signature,
              or in its alias X-Twilio-Signature when that is the only one sent.
  telnyx      telnyx-signature-ed25519 over "{telnyx-timestamp}|{body}", checked with the
              account's public key (GATEWAY_VOICE_TELNYX_PUBLIC_KEY) and a replay window
              (telnyx_signature.py).

Why a setting names the scheme rather than trying whatever the headers carry: a verifier
that accepts any scheme it can find is as weak as its weakest one, and the request picks
which. With one scheme named, a forger must beat that one; a request signed any other way
is refused, even a correct Twilio signature on a line that expects Telnyx's (an HMAC has no
timestamp, so a captured request could otherwise be replayed at any time).

Why the `twilio` library's `RequestValidator` for the HMAC: the signature has quirks (a URL
signed with or without its default port, the SHA-256 variant named by a settings header)
that the provider's own code handles and a copy would drift from.

Why the URL comes from the settings (`Settings.voice_url`) and not from the request's Host
header: behind a proxy the gateway sees its own address, while the provider signed the
public one; and a Host header is the caller's to choose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from multidict import MultiMapping
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from gateway.clock import Clock
from gateway.config import Settings
from gateway.voice import telnyx_signature
from gateway.voice.telnyx_signature import Verdict

__all__ = ["SIGNALWIRE_HEADER", "SIGNATURE_HEADER", "WebhookCheck", "signature_of", "signed"]

SIGNALWIRE_HEADER: Final = "X-SignalWire-Signature"
Scheme = Literal["twilio", "signalwire", "telnyx"]
# Where each HMAC scheme looks for its signature, in order: the first header present is checked.
HMAC_HEADERS: Final[Mapping[str, tuple[str, ...]]] = {
    "twilio": (SIGNATURE_HEADER,),
    "signalwire": (SIGNALWIRE_HEADER, SIGNATURE_HEADER),
}


def signed(token: str, url: str, form: MultiMapping[str], headers: Mapping[str, str],
           names: tuple[str, ...] = (SIGNATURE_HEADER,)) -> bool:
    """True when the first of `names` in `headers` is the valid HMAC of `url` and `form`."""
    signature = next((headers[name] for name in names if headers.get(name)), None)
    if not signature or not token:
        return False
    algorithm = get_signature_algorithm(headers.get(SIGNATURE_SETTINGS_HEADER))
    return bool(RequestValidator(token).validate(url, form, signature, algorithm=algorithm))


def signature_of(token: str, url: str, form: Mapping[str, str]) -> str:
    """The signature the provider would send: what the call simulator signs its requests with."""
    return str(RequestValidator(token).compute_signature(url, form))


@dataclass(frozen=True, slots=True)
class WebhookCheck:
    """The line's one signature check, as the settings configure it."""

    scheme: Scheme
    token: str
    telnyx_key: Ed25519PublicKey | None
    max_age: int
    clock: Clock

    @classmethod
    def of(cls, settings: Settings, clock: Clock) -> WebhookCheck:
        token = settings.voice_auth_token.get_secret_value() if settings.voice_auth_token else ""
        scheme = settings.voice_signature_scheme
        key_text = settings.voice_telnyx_public_key
        if scheme == "telnyx" and not key_text:
            raise ValueError("GATEWAY_VOICE_SIGNATURE_SCHEME=telnyx needs "
                             "GATEWAY_VOICE_TELNYX_PUBLIC_KEY")
        if scheme != "telnyx" and not token.strip():
            raise ValueError("the voice line needs GATEWAY_VOICE_AUTH_TOKEN to check signatures")
        key = telnyx_signature.public_key_of(key_text) if scheme == "telnyx" and key_text \
            else None
        return cls(scheme, token, key, settings.voice_signature_max_age, clock)

    @property
    def headers(self) -> tuple[str, ...]:
        """The headers that carry this scheme's signature (a request with none is unsigned)."""
        if self.scheme == "telnyx":
            return (telnyx_signature.SIGNATURE_HEADER,)
        return HMAC_HEADERS[self.scheme]

    def verdict(self, url: str, form: MultiMapping[str], body: bytes,
                headers: Mapping[str, str]) -> Verdict:
        """"ok", or why the request is refused: unsigned, bad_signature, stale."""
        if self.telnyx_key is not None:
            return telnyx_signature.verdict(self.telnyx_key, body, headers, now=self.clock(),
                                            max_age=self.max_age)
        names = HMAC_HEADERS[self.scheme]
        if not any(headers.get(name) for name in names):
            return "unsigned"
        return "ok" if signed(self.token, url, form, headers, names) else "bad_signature"
