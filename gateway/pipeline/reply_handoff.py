"""A lane batch's replies handed straight to this process's sender, claimed as written.

Why: a reply used to be written 'queued' by the MO's lane, then claimed by
the sender in a statement of its own (an UPDATE of every row: out of the due
index, into the lease index) before it could leave. For the replies of the
lane's own MOs that claim decides nothing the lane has not just decided
under the numbers' locks (the contact's consent, the reply's priority and
time), so the lane writes them already claimed, 'sending' under the
sender's lease, and gives them to the sender once its transaction commits
(docs/outbox.md, "Replies handed over").

The sender stays in charge of what it can take: a reservation is only
granted within its free room (the same bound as a claim), never while it
starts or stops, and never while one of this process's replies waits in the
queue, so a number's replies leave in the order they were decided. A reply
not handed is queued and claimed as before. The last opt-out check (the
send gate) applies to handed replies as to claimed ones.

`Ticket` is one lane transaction's side of it: reserve while deciding,
then `adopt` after the commit, or `cancel` if the transaction failed
(`lost`: its commit may have happened, so rows leased to us may exist that
the sender does not know: it releases them, as after a claim whose answer
was lost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.store.outbound import ClaimedMessage, Lease


class ReplyTaker(Protocol):
    """The sender's side (pipeline/outbox.py `OutboxSender`)."""

    @property
    def lease(self) -> Lease: ...

    def reserve(self, wanted: int) -> int:
        """Room for up to `wanted` handed replies: how many may be written claimed."""

    def settle(self, reserved: int, wanted: int, messages: Sequence[ClaimedMessage], *,
               committed: bool, lost: bool = False) -> None:
        """A reservation ends: its rows committed (`messages` to send) or not."""


@dataclass
class Ticket:
    """One lane transaction's reservation (never shared between transactions)."""

    taker: ReplyTaker
    wanted: int = 0
    reserved: int = 0
    messages: list[ClaimedMessage] = field(default_factory=list)

    def flags(self, sendable: Sequence[bool]) -> list[bool]:
        """Which replies to write claimed: the first sendable ones, as far as the room goes.

        `sendable[i]`: reply i could leave now (its contact has not opted out, or
        it is the opt-out's own confirmation). Called once per transaction.
        """
        self.wanted += sum(sendable)
        granted = self.taker.reserve(sum(sendable))
        self.reserved += granted
        flags = []
        for can in sendable:
            flags.append(can and granted > 0)
            granted -= flags[-1]
        return flags

    def handed(self, messages: Sequence[ClaimedMessage]) -> None:
        """The rows the statement wrote claimed (read back from it)."""
        self.messages.extend(messages)

    def adopt(self) -> None:
        """The transaction committed: its handed replies go to the sender."""
        self.taker.settle(self.reserved, self.wanted, self.messages, committed=True)
        self._spent()

    def cancel(self, *, lost: bool) -> None:
        """The transaction failed; `lost`: with the connection, so its end is unknown."""
        # without a reservation no row was written claimed, whatever became of the COMMIT
        self.taker.settle(self.reserved, self.wanted, (), committed=False,
                          lost=lost and self.reserved > 0)
        self._spent()

    def _spent(self) -> None:
        self.wanted = self.reserved = 0
        self.messages = []
