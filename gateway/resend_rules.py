"""What becomes of an MT whose send did not end in the SMSC's acceptance: one table.

Why one table: two parts of the gateway meet a send that did not finish. The
sender (pipeline/outbox.py) sees it fail and knows why; the lease release
(store/outbound.py `release_leases`) finds rows left 'sending' by a process
that died, and knows only that the send was cut off. Both must treat a
billed MT (a carrier donation, `donation_id` set) the same way: a submit_sm
the SMSC may have taken may also have billed the supporter, so it is never
sent again; it is failed as `billed_unknown` and finance reconciles it
against the aggregator's settlement. An ordinary MT cut off the same way is
resent, but only after a hold in which no receipt proved the SMSC took it
(pipeline/unsure.py). Anything that proves nothing was accepted (a link
lost before the submit_sm was written, a temporary refusal) is retried.

The table is `RESEND_RULES`; the sender reads it through `rule_for`, the
lease release is generated from it (`release_values`), and
tests/test_resend_rules.py runs both on real rows and compares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final


class Ending(Enum):
    """How a send attempt ended, short of the SMSC's acceptance."""

    NOT_SENT = "not_sent"  # nothing reached the SMSC: the link was lost before the write
    REFUSED_FOR_NOW = "refused_for_now"  # the SMSC refused it, temporarily (throttled)
    REFUSED = "refused"  # refused for good, or a text that cannot be sent
    CUT_OFF = "cut_off"  # the submit_sm may have been taken: no answer came back


class Action(Enum):
    RETRY = "retry"  # back to the queue: nothing was accepted
    RESEND = "resend"  # back to the queue unsure: sent again only if no receipt proves it taken
    GIVE_UP = "give_up"  # failed for good


BILLED_UNKNOWN: Final = "billed_unknown"  # the error's prefix finance and billing look for
CUT_OFF_CAUSE: Final = "send cut off"  # the cause the lease release gives


@dataclass(frozen=True, slots=True)
class Rule:
    action: Action
    error: str  # the row's last_error; `{cause}` is the exception (or `CUT_OFF_CAUSE`)

    def message(self, cause: str) -> str:
        return self.error.format(cause=cause)

    @property
    def requeues(self) -> bool:
        return self.action is not Action.GIVE_UP


RESEND_RULES: Final[dict[tuple[Ending, bool], Rule]] = {
    # (how it ended, billed?) -> what to do
    (Ending.NOT_SENT, False): Rule(Action.RETRY, "{cause}"),
    (Ending.NOT_SENT, True): Rule(Action.RETRY, "{cause}"),
    (Ending.REFUSED_FOR_NOW, False): Rule(Action.RETRY, "{cause}"),
    (Ending.REFUSED_FOR_NOW, True): Rule(Action.RETRY, "{cause}"),
    (Ending.REFUSED, False): Rule(Action.GIVE_UP, "{cause}"),
    (Ending.REFUSED, True): Rule(Action.GIVE_UP, "{cause}"),
    (Ending.CUT_OFF, False): Rule(
        Action.RESEND, "unsure: {cause}; waiting for a receipt before resending"),
    (Ending.CUT_OFF, True): Rule(
        Action.GIVE_UP, BILLED_UNKNOWN + ": {cause}; reconcile, never resend"),
}


def rule_for(ending: Ending, *, billed: bool) -> Rule:
    return RESEND_RULES[ending, billed]


def may_have_reached_smsc(ending: Ending) -> bool:
    """Unsure: a receipt may still prove the SMSC took it (and settle the row)."""
    return ending is Ending.CUT_OFF
