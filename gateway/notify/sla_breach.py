"""The lead's notice when a question passes its SLA unclaimed.

Who is told: the theme's `leads` in keywords.yaml, which are e-mail
addresses (`gateway keywords check` refuses anything else). An address may
be a staff account's or a list (education-leads@...); the notice goes to it
either way, except to an address whose staff account is disabled: someone
who left stops getting mail when their account is closed.

When: in the escalation's own transaction (services/answers.py `escalate`),
one notice per (question, lead) with the dedupe key
`sla-breach:<question id>:<lead>`. A question is escalated once (the
escalation is a conditional UPDATE of open rows, `SKIP LOCKED`), and the key
makes a replay, a crash between queue and commit, or a second gateway
harmless: at most one notice per lead per question, ever.

What: the theme, how long the question has waited, the promised time, how
late it is, a short excerpt with any phone number or address the citizen
typed taken out, and the link to the question in the inbox. Never the
citizen's number or address.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from gateway.email_address import EmailAddressError, normalize_email
from gateway.engine import Rules
from gateway.engine.themes import response_time
from gateway.logs import get_logger, mask_email
from gateway.notify.staff_mail import StaffMail
from gateway.notify.texts import Language, excerpt, language_of, span
from gateway.store import mail_outbox
from gateway.store import notifications as store

log = get_logger("gateway.notify")


def lead_addresses(leads: Sequence[str]) -> list[str]:
    """The leads as compared addresses; one that is not an address is logged and left out."""
    found: list[str] = []
    for lead in leads:
        try:
            address = normalize_email(lead)
        except EmailAddressError as err:
            log.warning("lead_not_an_address", reason=str(err))
            continue
        if address not in found:
            found.append(address)
    return found


async def queue_breach_notices(
    conn: asyncpg.Connection, rules: Rules, escalated: Sequence[asyncpg.Record], *,
    mail: StaffMail, now: datetime,
) -> int:
    """Queue each escalated question's notices (rows of `questions.escalate_overdue`) in
    the caller's transaction; how many were queued or already there."""
    if mail.sender is None or not escalated:
        return 0
    leads = {row["id"]: lead_addresses(row["escalated_to"] or ()) for row in escalated}
    disabled = await store.disabled_users_among(
        conn, sorted({a for addresses in leads.values() for a in addresses}))
    queued = 0
    for row in escalated:
        to = [a for a in leads[row["id"]] if a not in disabled]
        if not to:
            continue
        language, values = notice_values(rules, row, mail=mail, now=now)
        for address in to:
            key = mail_outbox.sla_breach_key(row["id"], address)
            await mail.queue(conn, to=address, kind="sla_breach", language=language,
                             dedupe_key=key, values=values)
            queued += 1
            log.info("sla_breach_notice_queued", question_id=row["id"], theme=row["theme"],
                     lead=mask_email(address))
    return queued


def notice_values(rules: Rules, row: asyncpg.Record, *, mail: StaffMail,
                  now: datetime) -> tuple[Language, dict[str, object]]:
    """The notice's language (its program's) and what its template names."""
    program = rules.programs.get(row["program"])
    profile = program.profile if program is not None else "us"
    themes = rules.themes.get(row["program"])
    topic = themes.topics.get(row["theme"]) if themes is not None else None
    promised = int((row["sla_due"] - row["asked_at"]).total_seconds())
    language = language_of(profile)
    return language, {
        "question_id": row["id"],
        "theme": topic.name if topic is not None else row["theme"],
        "program": program.name if program is not None else row["program"],
        "waiting": span((now - row["asked_at"]).total_seconds(), language),
        "sla": response_time(promised, profile),
        "late": span((now - row["sla_due"]).total_seconds(), language),
        "excerpt": excerpt(row["body"], language),
        "link": mail.link(f"/inbox/questions/{row['id']}"),
    }
