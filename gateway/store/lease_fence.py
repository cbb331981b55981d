"""The fence of a leased row's attempt, shared by the queues that lease rows to senders.

Why one definition: the mail outbox and the webhook deliveries lease rows the same way
(a claim increments `attempts`, so id, lease owner and attempt count name one attempt,
and every write about that attempt requires all three). A sender whose lease ran out
and was taken over then writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Leased(Protocol):
    """A claimed row: its id and the attempt count its claim set."""

    @property
    def id(self) -> int: ...

    @property
    def attempts(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who holds which attempt: the fence every write about it requires."""

    id: int
    owner: str
    attempts: int

    @classmethod
    def of(cls, row: Leased, owner: str) -> Attempt:
        return cls(row.id, owner, row.attempts)
