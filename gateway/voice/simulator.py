"""The demo's call simulator, the provider's half: sign a request as the provider would, and
read the XML answered as the provider does. Pure: the page (web/pages/voice_simulator.py)
does the HTTP.

Why the simulator goes through the real webhooks rather than calling the steps: a
newcomer walking the menu in a browser then exercises what a provider would, the
signature check included, and sees the very XML a provider would get. The auth token
never leaves the server: the browser says which link to follow and which key was
pressed; the server adds the call's fields and the signature.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, Final

from gateway.voice.signature import signature_of

# What the browser may say about a step; everything else the simulator sets itself.
FIELDS: Final = frozenset({"Digits", "SpeechResult", "CallStatus", "CallDuration",
                           "RecordingSid", "RecordingUrl", "RecordingDuration",
                           "RecordingStatus", "TranscriptionText", "TranscriptionStatus"})
ACCOUNT: Final = "AC-simulator"
TO: Final = "+10000000000"


class NotOurLink(ValueError):
    """A link the simulator will not follow: not under the line's base URL."""


def provider_form(call_sid: str, caller: str | None, fields: Mapping[str, str],
                  account: str | None) -> dict[str, str]:
    """The form a provider posts for one step of a call (`caller` None: withheld)."""
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise NotOurLink(f"the simulator does not send {', '.join(unknown)}")
    return {"AccountSid": account or ACCOUNT, "CallSid": call_sid,
            "From": caller or "anonymous", "To": TO, "Direction": "inbound", **fields}


def signed_request(token: str, base_url: str, url: str, form: Mapping[str, str]
                   ) -> tuple[str, str]:
    """(the local path to post to, the X-Twilio-Signature) of `url`, a link the line gave."""
    if not url.startswith(base_url + "/"):
        raise NotOurLink(f"{url!r} is not a link of the voice line ({base_url}/...)")
    return "/voice" + url.removeprefix(base_url), signature_of(token, url, form)


def verbs(xml: str, base_url: str) -> list[dict[str, Any]]:
    """The answer as the steps a provider runs: say, play, gather (its texts), record,
    redirect, hangup; links as given (to follow) and audio as a local path (to play)."""
    root = ET.fromstring(xml)
    steps: list[dict[str, Any]] = []
    for element in root:
        tag = element.tag.lower()
        if tag == "say":
            steps.append({"verb": "say", "text": element.text or ""})
        elif tag == "play":
            url = (element.text or "").strip()
            steps.append({"verb": "play", "url": url, "src": local_path(url, base_url)})
        elif tag == "gather":
            steps.append({"verb": "gather", "action": element.get("action", ""),
                          "digits": element.get("numDigits"),
                          "texts": [say.text or "" for say in element.iter("Say")]})
        elif tag == "redirect":
            steps.append({"verb": "redirect", "url": (element.text or "").strip()})
        elif tag == "record":
            steps.append({"verb": "record", "action": element.get("action", ""),
                          "max_seconds": element.get("maxLength"),
                          "status_callback": element.get("recordingStatusCallback", ""),
                          "transcription_callback": element.get("transcribeCallback", "")})
        elif tag == "hangup":
            steps.append({"verb": "hangup"})
    return steps


def local_path(url: str, base_url: str) -> str:
    """A link of the line as a path of this server (the page plays it from here)."""
    return "/voice" + url.removeprefix(base_url) if url.startswith(base_url + "/") else url
