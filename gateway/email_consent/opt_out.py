"""Leaving an e-mail list: the link, RFC 8058 one-click, or a reply saying so. All final.

Why final: the issue asks that an e-mail unsubscribe be as final as an SMS
STOP. An opt-out closes every confirmation link still open for that list
(an old link cannot undo it), and only a new explicit request, confirmed by
a new link, subscribes the address again (opt_in.py).

The opt-out row copies the privacy charter and language of the step it
ends, so the ledger reads "left the list joined under charter v3" without
needing the keywords file of the day.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import asyncpg

from gateway.email_address import EmailAddressError, normalize_email
from gateway.email_consent.reply_words import is_unsubscribe_request, own_words
from gateway.email_consent.texts import as_language, texts
from gateway.logs import get_logger
from gateway.outgoing_mail import domain_of
from gateway.store import address_consent as store

log = get_logger(__name__)

OPT_OUT_SOURCES: Final = frozenset({"unsubscribe_link", "list_unsubscribe", "reply"})
CITIZEN_TEXT_LIMIT: Final = 500  # the reply's own words kept as the evidence (erased with them)


async def unsubscribe(conn: asyncpg.Connection, *, address: str, program: str, source: str,
                      now: datetime, program_name: str | None = None,
                      mail_inbound_id: int | None = None, citizen_text: str = "") -> bool:
    """Take `address` off `program`'s list now; False when it was not on it (nothing recorded).

    source: 'unsubscribe_link' (the page's button), 'list_unsubscribe' (RFC 8058
    one-click) or 'reply'. A pending request counts as on the list: its link closes.
    """
    if source not in OPT_OUT_SOURCES:
        raise ValueError(f"an opt-out's source is one of {sorted(OPT_OUT_SOURCES)}")
    address = normalize_email(address)
    async with conn.transaction():
        await store.lock_address(conn, address)
        current = await store.subscription(conn, address, program)
        if current is None or current.state == "unsubscribed":
            return False
        words = texts(as_language(current.language))
        wording = (words.say("page", "unsubscribe_statement", program=program_name or program)
                   if source == "unsubscribe_link" else words.say("ledger", source))
        await store.record(conn, store.NewEvent(
            address=address, program=program, kind="opted_out", source=source, wording=wording,
            wording_version=words.version, privacy_url=current.privacy_url,
            privacy_version=current.privacy_version, language=current.language,
            occurred_at=now, mail_inbound_id=mail_inbound_id,
            citizen_text=citizen_text[:CITIZEN_TEXT_LIMIT]))
        await store.close_open_tokens(conn, address, program, now)
    log.info("email_opted_out", program=program, source=source, domain=domain_of(address))
    return True


async def unsubscribe_by_reply(conn: asyncpg.Connection, address: str, mail_id: int, text: str,
                               now: datetime, *, subject: str = "") -> bool:
    """For the mail router: if this stored mail (`mail_id`, from `address`) asks to leave the
    list (reply_words.py), take the address off every program's list it is on or asked for.

    True: it was such a request and the address had a subscription (even one already
    ended), so the mail needs no other answer. False: not a request, or nothing to
    leave; route the mail as usual. `text`: the mail's text part (the HTML part
    reduced to text when there is none).
    """
    if not is_unsubscribe_request(text, subject):
        return False
    try:
        address = normalize_email(address)
    except EmailAddressError:
        return False
    said = (own_words(text).strip() or subject.strip())
    async with conn.transaction():
        await store.lock_address(conn, address)
        subscriptions = await store.subscriptions_of(conn, address)
        for found in subscriptions:
            await unsubscribe(conn, address=address, program=found.program, source="reply",
                              now=now, mail_inbound_id=mail_id, citizen_text=said)
    return bool(subscriptions)


async def may_send_bulk(conn: asyncpg.Connection, address: str, program: str) -> bool:
    """True only for a confirmed subscriber of `program` who has not opted out since."""
    try:
        address = normalize_email(address)
    except EmailAddressError:
        return False
    return await store.bulk_suppression_reason(conn, address, program) is None
