"""May anything ever answer this message? One pure rule, for every sender of mail.

Why one function: the acknowledgement, the knowledge-base answer and an
expert's reply (the routing and e-mail-out steps) must all refuse the same
messages, or one of them starts the mail loop the others avoid. It is
computed when a message is stored (mail_inbound.never_answer) and can be
computed again by whoever is about to write back.

`answerable` returns True, or the reason it may not be answered:
- the kind is not "normal" (bounce, auto-reply, list traffic: classify.py);
- there is no address to answer (no Reply-To or From with an address);
- the address is one of the campaign's own (a loop through ourselves);
- the address is a robot's by convention (mailer-daemon, no-reply...).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal, Protocol

ROBOT_LOCAL_PARTS = frozenset({
    "mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply", "donotreply",
    "do-not-reply", "do_not_reply", "bounce", "bounces"})


class Answerable(Protocol):
    """What the rule reads: a stored message's record, or a freshly built one."""

    @property
    def kind(self) -> str: ...

    @property
    def from_address(self) -> str | None: ...

    @property
    def reply_to(self) -> str | None: ...


def reply_address(message: Answerable) -> str | None:
    """Where an answer would go: Reply-To, else From."""
    return message.reply_to or message.from_address


def answerable(message: Answerable,
               own_addresses: Collection[str] = ()) -> Literal[True] | str:
    """True when an answer may be sent; otherwise the reason, e.g. 'auto_reply'."""
    if message.kind != "normal":
        return message.kind
    address = reply_address(message)
    if not address or "@" not in address:
        return "no_reply_address"
    lowered = address.strip().lower()
    if lowered in {own.lower() for own in own_addresses}:
        return "own_address"
    local = lowered.rpartition("@")[0]
    if local in ROBOT_LOCAL_PARTS or local.startswith(("bounce+", "bounces+", "bounce-")):
        return "robot_address"
    return True
