"""The layout of `ContactState.data`, and a working copy `decide()` edits.

Layout (JSON, kept small; times are UTC ISO-8601 strings):

    {"v": 1,
     "subs": {"rise": {"status": "subscribed", "since": "...", "keyword": "JOIN"},
              "news": {"status": "pending", "since": "...", "keyword": "NEWS",
                       "dialog": "profile"}},
     "dialog": {"id": "profile", "program": "rise", "step": 1, "retries": 0,
                "started": "...", "last": "..."},
     "profile": {"zip": "10001", "state": "NY", "timezone": "America/New_York"},
     "mo": ["...", "..."],            # recent MO times for the flood guard (bounded)
     "last_default_reply": "...",
     "donation": {"ref": 42, "program": "rise", "amount_cents": 1000, "currency": "USD",
                  "method": "carrier", "keyword": "GIVE", "requested": "...",
                  "expires": "..."},      # a request waiting for its YES (gift_requests.py)
     "donation_ask": {"program": "rise", "keyword": "GIVE", "at": "..."},
     "donation_last": {"ref": 42, "program": "rise", "confirmed": "..."},
     "card": {"last4": "4242"},          # written by the shell from the saved card
     "theme": {"program": "ensemble", "step": "ask", "theme": "education", "at": "..."},
     "stop_hint": "...",                 # when we said how to stop (once: revocation.py)
     "flood_replies": {"help": "..."}}   # STOP/START/HELP replies in a flood (flood.py)

Why a working copy: the incoming state must stay untouched (the caller may
retry the decision), so nested dicts are replaced on write, never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

LAYOUT_VERSION: Final = 1
SUBSCRIBED: Final = "subscribed"
PENDING: Final = "pending"
OPTED_OUT: Final = "opted_out"

FLOOD_WINDOW = timedelta(minutes=1)


class Draft:
    __slots__ = ("card", "details", "dialog", "donation", "donation_ask", "donation_last",
                 "flood_replies", "last_default_reply", "mo", "profile", "stop_hint", "subs",
                 "theme")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.subs: dict[str, dict[str, Any]] = dict(data.get("subs") or {})
        self.dialog: dict[str, Any] | None = data.get("dialog") or None
        self.profile: dict[str, Any] = data.get("profile") or {}
        self.mo: list[str] = list(data.get("mo") or [])
        self.last_default_reply: str | None = data.get("last_default_reply")
        self.donation: dict[str, Any] | None = data.get("donation") or None
        self.donation_ask: dict[str, Any] | None = data.get("donation_ask") or None
        self.donation_last: dict[str, Any] | None = data.get("donation_last") or None
        self.card: dict[str, Any] | None = data.get("card") or None
        # a donor-details hold, written by the shell before each batch (donor_details.py)
        self.details: dict[str, Any] | None = data.get("details") or None
        # a theme menu or question prompt waiting for its answer (engine/themes.py)
        self.theme: dict[str, Any] | None = data.get("theme") or None
        # when an unclear opt-out was answered with how to stop (decide.py; once per number)
        self.stop_hint: str | None = data.get("stop_hint")
        # word kind -> when a STOP/START/HELP was last answered during a flood (flood.py)
        self.flood_replies: dict[str, Any] | None = data.get("flood_replies") or None

    def status(self, program: str) -> str | None:
        sub = self.subs.get(program)
        return None if sub is None else str(sub.get("status"))

    def set_status(self, program: str, status: str, at: str, **extra: Any) -> None:
        self.subs[program] = {"status": status, "since": at, **extra}

    def pending(self) -> list[str]:
        return [p for p, sub in self.subs.items() if sub.get("status") == PENDING]

    def update_profile(self, values: Mapping[str, Any]) -> None:
        self.profile = {**self.profile, **values}

    def record_mo(self, now: datetime, at: str, limit: int) -> bool:
        """Remember this MO (`at` is `now` as stored); True past `limit` MOs in a minute."""
        since = now - FLOOD_WINDOW
        recent = [t for t in self.mo if datetime.fromisoformat(t) > since]
        recent.append(at)
        self.mo = recent[-(limit + 1) :]
        return len(recent) > limit

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"v": LAYOUT_VERSION, "subs": self.subs, "mo": self.mo}
        if self.dialog is not None:
            data["dialog"] = self.dialog
        if self.profile:
            data["profile"] = self.profile
        if self.last_default_reply is not None:
            data["last_default_reply"] = self.last_default_reply
        for key in ("donation", "donation_ask", "donation_last", "card", "theme",
                    "details", "stop_hint", "flood_replies"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


def elapsed(since: str | None, now: datetime) -> timedelta | None:
    return None if since is None else now - datetime.fromisoformat(since)
