"""One broadcast's results: what became of its texts and what the recipients did.

The same numbers on the broadcast's page, in the API
(`GET /api/v1/broadcasts/{id}/results`) and in the `broadcast.completed`
webhook event, from here (docs/links-and-results.md):

- sent: texts the SMSC accepted (any later fate); delivered: with a final
  DELIVRD receipt; failed: refused, undeliverable or given up, per status and
  reason; not sent: opted out before their turn, or the broadcast cancelled;
- clicks (store/short_links.py): unique (links followed at least once, one per
  recipient and link) and total (every click by a person, not by a preview bot);
- replies, opt-outs, gifts and their amount credited to the broadcast by the
  attribution rule (migration 340): within 24 hours of the recipient's text,
  the later broadcast winning. These keep growing for a day after the last
  text: `broadcast.completed` says what was known when the broadcast
  finished, and `broadcast.results_final` says it again once that day has
  passed (emitted once, by the broadcast ticker, in the transaction that marks
  the broadcast's `final_results_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from gateway.store import broadcast_results, broadcasts, short_links, webhook_events

# How long after a recipient's text an act is credited to the broadcast: the
# window written in the SQL function `broadcast_attributed` (migration 340),
# which decides; a test holds the two equal.
ATTRIBUTION_WINDOW: Final = timedelta(hours=24)

SENT = ("submitted", "delivered", "undeliverable", "rejected")
FAILED = ("undeliverable", "rejected", "failed")
NOT_SENT = ("suppressed", "cancelled")


@dataclass(frozen=True, slots=True)
class Failure:
    status: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class Gifts:
    currency: str
    gifts: int
    cents: int


@dataclass(frozen=True, slots=True)
class Results:
    broadcast_id: int
    sent: int
    delivered: int
    failed: int
    failures: tuple[Failure, ...]  # the failed, per status and reason, most first
    not_sent: int
    waiting: int  # queued or being sent
    unique_clicks: int
    total_clicks: int
    people_clicked: int
    replies: int  # recipients who replied with anything but a STOP
    opt_outs: int  # recipients whose STOP is credited to it
    gifts: tuple[Gifts, ...]  # per currency

    def as_data(self) -> dict[str, Any]:
        """The JSON shape of the API and the webhook event."""
        return {
            "broadcast_id": self.broadcast_id, "sent": self.sent, "delivered": self.delivered,
            "failed": self.failed,
            "failed_by_reason": [{"status": f.status, "reason": f.reason, "count": f.count}
                                 for f in self.failures],
            "not_sent": self.not_sent, "waiting": self.waiting,
            "clicks": {"unique": self.unique_clicks, "total": self.total_clicks,
                       "people": self.people_clicked},
            "replies": self.replies, "opt_outs": self.opt_outs,
            "gifts": [{"currency": g.currency, "count": g.gifts, "amount_cents": g.cents}
                      for g in self.gifts],
            "attribution_window_hours": ATTRIBUTION_WINDOW // timedelta(hours=1),
        }


async def results_of(conn: asyncpg.Connection, broadcast_id: int) -> Results:
    outcomes = await broadcast_results.outcomes(conn, broadcast_id)
    acts = await broadcast_results.credited(conn, broadcast_id)
    clicks = await short_links.clicks_of(conn, broadcast_id)

    def total(statuses: tuple[str, ...]) -> int:
        return sum(o.count for o in outcomes if o.status in statuses)

    failures = sorted((Failure(o.status, o.reason, o.count) for o in outcomes
                       if o.status in FAILED), key=lambda f: (-f.count, f.status, f.reason))
    return Results(
        broadcast_id=broadcast_id, sent=total(SENT), delivered=total(("delivered",)),
        failed=total(FAILED), failures=tuple(failures), not_sent=total(NOT_SENT),
        waiting=total(("queued", "sending")), unique_clicks=clicks.unique,
        total_clicks=clicks.total, people_clicked=clicks.people,
        replies=sum(a.people for a in acts if a.act == "reply"),
        opt_outs=sum(a.people for a in acts if a.act == "stop"),
        gifts=tuple(Gifts(a.currency, a.acts, a.cents) for a in acts if a.act == "gift"),
    )


async def emit_completed(conn: asyncpg.Connection, broadcast_ids: list[int], *,
                         at: datetime) -> int:
    """`broadcast.completed` with each one's results, in the caller's transaction (the one
    that marked them done); nothing is computed when no subscription wants the event."""
    return await _emit(conn, webhook_events.BROADCAST_COMPLETED, broadcast_ids, at=at)


async def emit_final(conn: asyncpg.Connection, now: datetime) -> list[int]:
    """`broadcast.results_final` for each broadcast that finished at least the attribution
    window ago, once: emitted and marked in the caller's transaction, the rows locked so
    that a second gateway emits none of them again. Returns the broadcasts marked."""
    due = await broadcasts.final_results_due(conn, finished_by=now - ATTRIBUTION_WINDOW)
    if due:
        await _emit(conn, webhook_events.BROADCAST_RESULTS_FINAL, due, at=now)
        await broadcasts.mark_final_results(conn, due, now)
    return due


async def _emit(conn: asyncpg.Connection, event_type: str, broadcast_ids: list[int], *,
                at: datetime) -> int:
    if not broadcast_ids or not await webhook_events.wanted(conn, event_type):
        return 0
    events = []
    for broadcast_id in broadcast_ids:
        broadcast = await broadcasts.get_broadcast(conn, broadcast_id)
        if broadcast is None or broadcast.channel != "sms":
            continue  # a newsletter's results are its mail's (docs/email.md)
        data = {"program": broadcast.program, "shortcode": broadcast.shortcode,
                **(await results_of(conn, broadcast_id)).as_data()}
        events.append(webhook_events.NewWebhookEvent(event_type, data, at))
    return await webhook_events.emit(conn, events)
