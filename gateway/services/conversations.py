"""A contact's history as conversations: what was said together, read together.

Why: a flat list of a year of texts, mails and calls is hard to read; staff
think in exchanges ("the JOIN on Tuesday", "the question about the
hospital", "the call last week"). Pure: the timeline rows in
(store/timeline.py `person_timeline`, already fenced for the viewer), the
conversations out; no I/O, no clock.

How rows are grouped (the decision, docs/contact-centre.md says it too):

* a call is one conversation: every step of one call (its `call_sid`);
* a written question (e-mail or the form) is one thread: the post or mail
  that opened it, its acknowledgement, the expert's answer and the replies
  that joined it, however many days apart (their `question_id`);
* everything else goes by channel and address (an SMS number on one short
  code, an e-mail address): a new conversation starts when more than
  `GAP` passed since the previous row of that channel and address. Six
  hours keeps a JOIN, its confirmation and the profile questions together,
  and puts tomorrow's reply to a broadcast in a conversation of its own.

Conversations are listed newest first (the latest is what staff open the
page for); the rows inside one stay oldest first, as they were said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

GAP: Final = timedelta(hours=6)


@dataclass(slots=True)
class Conversation:
    """`channel`: sms, email, web or call; `address` the number or e-mail address;
    `shortcode` an SMS or call's short code; `question_id` a written question's thread."""

    channel: str
    address: str | None
    shortcode: str | None
    question_id: int | None
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def started(self) -> datetime:
        started: datetime = self.items[0]["at"]
        return started

    @property
    def ended(self) -> datetime:
        ended: datetime = self.items[-1]["at"]
        return ended

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "address": self.address, "shortcode": self.shortcode,
                "question_id": self.question_id, "started": self.started,
                "ended": self.ended, "items": self.items}


def channel_of(item: dict[str, Any]) -> str:
    """sms, email, web or call: the way the row was said."""
    kind = item["kind"]
    data = item.get("data") or {}
    if kind == "call":
        return "call"
    if kind in ("mail_in", "mail_out"):
        return "email"
    if kind == "form_in":
        return "web"
    if kind == "event" and item.get("ref") is None:  # a written question's life
        return "web" if data.get("channel") == "web" else "email"
    return "sms"


def _thread(item: dict[str, Any]) -> int | None:
    """The written question whose thread a row is part of: its mail, form post or a step of
    its life read from its own tables (an SMS question's steps are texts, grouped as such)."""
    kind = item["kind"]
    if kind not in ("mail_in", "mail_out", "form_in") and not (
            kind == "event" and item.get("ref") is None):
        return None
    found = (item.get("data") or {}).get("question_id")
    return int(found) if isinstance(found, int) else None


def conversations(items: Sequence[dict[str, Any]]) -> list[Conversation]:
    """The rows (oldest first) grouped as the module doc says; newest conversation first."""
    done: list[Conversation] = []
    calls: dict[str, Conversation] = {}
    threads: dict[int, Conversation] = {}
    open_runs: dict[tuple[str, str | None, str | None], Conversation] = {}
    for item in items:
        channel = channel_of(item)
        data = item.get("data") or {}
        address, code = item.get("address"), item.get("shortcode")
        if channel == "call" and data.get("call_sid"):
            sid = str(data["call_sid"])
            if sid not in calls:
                calls[sid] = Conversation("call", address, code, None)
                done.append(calls[sid])
            calls[sid].items.append(item)
            continue
        thread = _thread(item)
        if thread is not None:
            if thread not in threads:
                threads[thread] = Conversation(channel, address, None, thread)
                done.append(threads[thread])
            threads[thread].items.append(item)
            continue
        key = (channel, address, code)
        run = open_runs.get(key)
        if run is None or item["at"] - run.ended > GAP:
            run = open_runs[key] = Conversation(channel, address, code, None)
            done.append(run)
        run.items.append(item)
    return sorted(done, key=lambda c: c.ended, reverse=True)
