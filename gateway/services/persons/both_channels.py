"""A number and an e-mail address linked because the same citizen confirmed on both channels.

Why its own proof: the /write form can name a mobile and an e-mail address
at once; when the citizen then confirms the e-mail (double opt-in) and texts
the keyword from that mobile, both channels have said yes and no link needs
following. The caller (the program that saw both confirmations) hands in the
MO (checked here to come from the number) and what names the e-mail
confirmation; without both, nothing is linked.

`link_form_channels` is that program for the form: the e-mail confirmation
page calls it when an address confirms a request that came from a form post
naming a mobile number. The number's yes must be an SMS opt-in confirmation
(the consent ledger's opt_in_confirmed) to the same program at or after the
post: anyone can type a stranger's number into a form, so a subscriber who
joined before the post proves nothing about it. A number whose confirmation
comes only after the e-mail's is not linked here (nothing on the SMS path
calls back); staff can merge it, or send a link.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from gateway.logs import get_logger
from gateway.services import audit
from gateway.services.persons.addresses import channel_of, checked
from gateway.services.persons.link_tokens import CITIZEN
from gateway.services.persons.membership import Joined, join
from gateway.store import consent, web_messages
from gateway.store import persons as store

log = get_logger("gateway.persons")


async def link_both_channels(conn: asyncpg.Connection, *, number: str, email: str,
                             sms_inbound_id: int, email_evidence: Mapping[str, Any],
                             now: datetime) -> Joined:
    """Link a number and an e-mail address the same citizen confirmed on both channels.

    For the program that saw both confirmations (e.g. the /write form naming a
    mobile, a keyword texted from that mobile, and the e-mail's double opt-in):
    `sms_inbound_id` is the MO that confirmed on the phone (checked to come from
    `number`), `email_evidence` names the e-mail confirmation (e.g. the consent
    ledger's row: {"email_consent_id": 7}). Refused without both.
    """
    number, email = checked(number), checked(email)
    if channel_of(number) != "sms" or channel_of(email) != "email":
        raise ValueError("link_both_channels takes a number and an e-mail address")
    if not email_evidence:
        raise ValueError("email_evidence must name the e-mail confirmation")
    async with conn.transaction():
        sender = await store.inbound_sender(conn, sms_inbound_id)
        if sender != number:
            raise ValueError(f"MO {sms_inbound_id} did not come from the number being linked")
        joined = await join(conn, number, email, method="both_channels",
                            evidence={"sms_inbound_id": sms_inbound_id, **email_evidence},
                            linked_by=CITIZEN, reason=None, now=now)
        await audit.record(conn, None, audit.PERSON_LINKED, f"person:{joined.person_id}",
                           actor=CITIZEN, method="both_channels", link_id=joined.link_id,
                           addresses=[number, email])
    log.info("person_linked", person_id=joined.person_id, link_id=joined.link_id,
             method="both_channels")
    return joined


async def link_form_channels(conn: asyncpg.Connection, *, web_message_id: int, email: str,
                             program: str, email_consent_id: int,
                             now: datetime) -> Joined | None:
    """After `email` confirmed its opt-in to `program` (ledger row `email_consent_id`) from
    form post `web_message_id`: link it with the post's mobile number when that number
    confirmed an SMS opt-in to `program` since the post. None when there is nothing to
    link (no number on the post, no SMS confirmation since, already one person)."""
    post = await web_messages.get_message(conn, web_message_id)
    if post is None or post["msisdn"] is None or post["email"] != email:
        return None
    number: str = post["msisdn"]
    sms = await consent.confirmed_since(conn, number, program, post["received_at"])
    if sms is None:
        return None
    person = await store.person_of(conn, number)
    if person is not None and person == await store.person_of(conn, email):
        return None
    return await link_both_channels(
        conn, number=number, email=email, sms_inbound_id=sms["inbound_id"],
        email_evidence={"web_message_id": web_message_id, "email_consent_id": email_consent_id,
                        "sms_consent_id": sms["id"]}, now=now)
