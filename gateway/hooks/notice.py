"""Telling admins that a subscription was disabled: an audit entry and an e-mail each.

Why in the transaction that disabled it (hooks/sender.py): the disabling,
its audit entry and the notices commit together, and only the statement that
flipped the subscription reports it (store/webhook_subscriptions.py), so two
gateways never tell twice. The mail's words are a template
(gateway/notify/templates/webhook_disabled.*.txt), queued through the staff
notice path (notify/staff_mail.py, the e-mail outbox) with a dedupe key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

import asyncpg

from gateway.logs import get_logger
from gateway.notify.staff_mail import StaffMail
from gateway.notify.texts import Language
from gateway.store import audit, users

log = get_logger("gateway.hooks.notice")

WEBHOOK_DISABLED: Final = "webhook.disabled"  # the audit action (services/audit.py names it)
ACTOR: Final = "gateway"
NOTICE_KIND: Final = "webhook_disabled"


@dataclass(frozen=True, slots=True)
class DisabledNotice:
    """How admins are mailed: the staff notice sender, their language, the API's link."""

    mail: StaffMail
    language: Language = "en"


def shown_url(url: str) -> str:
    """The receiver without its query: a token in it is not for a mail."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


async def notify_disabled(conn: asyncpg.Connection, notice: DisabledNotice | None, *,
                          subscription_id: int, url: str, failures: int, since: datetime,
                          error: str, now: datetime) -> int:
    """The audit entry and one queued mail per active admin; how many mails were queued."""
    await audit.insert_entry(
        conn, actor_id=None, actor=ACTOR, action=WEBHOOK_DISABLED,
        target=f"webhook:{subscription_id}",
        detail={"url": shown_url(url), "failures": failures, "failing_since": since,
                "last_error": error[:300]})
    queued = 0
    if notice is not None:
        admins = [u for u in await users.list_users(conn) if u.role == "admin" and u.active]
        for admin in admins:
            mailed = await notice.mail.queue(
                conn, to=admin.email, kind=NOTICE_KIND, language=notice.language,
                dedupe_key=f"webhook-disabled:{subscription_id}:{now.isoformat()}:{admin.id}",
                values={"subscription_id": subscription_id, "url": shown_url(url),
                        "failures": failures, "since": since.strftime("%Y-%m-%d %H:%M UTC"),
                        "error": error[:300],
                        "link": notice.mail.link(f"/api/v1/webhooks/{subscription_id}/deliveries")})
            queued += mailed is not None
    log.warning("webhook_subscription_disabled", subscription_id=subscription_id,
                failures=failures, admins_mailed=queued)
    return queued
