"""What staff do to persons from the contact page: merge two addresses, undo a wrong link,
send a citizen a confirmation link.

Who: the roles that may change contacts today, admins and organizers
(web/access.py CAMPAIGN, the same as the contact page). Not experts: they
see a masked number and only their themes' threads, and a merge would show
them, and let them change, whose address is whose. Every merge and unmerge
writes its audit entry (who, the two addresses, the reason) in the same
transaction as the change.

A staff merge needs a reason, an explicit confirmation, and two addresses we
have heard of (a contact or a text for a number; a mail from or to an
e-mail address): a typo must not join a stranger. An address we never had
gets a confirmation link instead, which its holder must follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.plain_words import N_, said
from gateway.services import audit
from gateway.services.actor import Identity
from gateway.services.errors import invalid, not_found
from gateway.services.persons.addresses import channel_of, parse_address
from gateway.services.persons.link_tokens import LinkRequest, request_link
from gateway.services.persons.membership import Joined, Split, join, split
from gateway.services.persons.texts import Language
from gateway.store import persons as store

log = get_logger("gateway.persons")

MIN_REASON = 10  # characters: "same person" is not a reason a reviewer can check


@dataclass(frozen=True, slots=True)
class Merged:
    joined: Joined
    other: str


async def merge(pool: asyncpg.Pool, actor: Identity, *, client: str, address: str,
                other_raw: str, reason: str, confirmed: bool, now: datetime) -> Merged:
    """Join `address` (the contact's) and the typed other address, method 'expert_merge'."""
    other = parse_address(other_raw, field="other")
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON:
        raise invalid(said(N_("reason: say how you know these are one person (at least "
                              "%(min_reason)s characters); it goes in the audit log"),
                           min_reason=MIN_REASON), field="reason")
    if not confirmed:
        raise invalid(N_("confirm: tick the box to confirm these addresses are one person"),
                      field="confirm")
    if other == address:
        raise invalid(N_("other: that is this contact's own address"), field="other")
    async with pool.acquire() as conn, conn.transaction():
        for known in (address, other):
            if not await store.address_known(conn, known, channel_of(known)):
                raise invalid(said(N_("other: we have no message from or to %(known)s; send a "
                                      "confirmation link instead, which its holder must follow"),
                                   known=known),
                              field="other")
        joined = await join(conn, address, other, method="expert_merge",
                            evidence={"client": client}, linked_by=actor.email,
                            reason=reason, now=now)
        await audit.record(conn, actor, audit.PERSON_MERGED, f"person:{joined.person_id}",
                           client=client, link_id=joined.link_id, method="expert_merge",
                           addresses=[address, other], reason=reason)
    log.info("person_merged", person_id=joined.person_id, link_id=joined.link_id)
    return Merged(joined, other)


async def unmerge(pool: asyncpg.Pool, actor: Identity, *, client: str, address: str,
                  link_id: int, reason: str, now: datetime) -> Split:
    """Undo one link of `address`'s person (404 for a link of anyone else)."""
    async with pool.acquire() as conn, conn.transaction():
        person_id = await store.person_of(conn, address)
        link = await store.get_link(conn, link_id)
        if person_id is None or link is None or \
                await store.person_of(conn, link.address_a) != person_id:
            raise not_found(said(N_("link %(link_id)s of this contact"), link_id=link_id))
        undone, parts = await split(conn, link_id, by=actor.email,
                                    reason=" ".join(reason.split()), now=now)
        await audit.record(conn, actor, audit.PERSON_UNMERGED, f"person:{person_id}",
                           client=client, link_id=link_id, method=undone.method,
                           addresses=[undone.address_a, undone.address_b],
                           reason=" ".join(reason.split()), kept=list(parts.kept),
                           kept_person=parts.person_id, other=list(parts.other),
                           other_person=parts.other_person_id)
    log.info("person_unmerged", person_id=person_id, link_id=link_id,
             other_person=parts.other_person_id)
    return parts


async def send_link(pool: asyncpg.Pool, settings: Settings, actor: Identity, *, client: str,
                    address: str, other_raw: str, language: Language, program: str,
                    now: datetime) -> LinkRequest:
    """Send the typed other address a link to confirm it belongs with the contact's."""
    other = parse_address(other_raw, field="claimed")
    async with pool.acquire() as conn, conn.transaction():
        if not await store.address_known(conn, address, channel_of(address)):
            raise not_found(said(N_("contact %(address)s"), address=address))
        sent = await request_link(
            conn, settings, known=address, claimed=other, requested_by=actor.email,
            evidence={"asked_by_staff": actor.email}, language=language, program=program,
            shortcode=settings.shortcode, now=now)
        await audit.record(conn, actor, audit.PERSON_LINK_SENT, f"contact:{address}",
                           client=client, token_id=sent.token_id, claimed=other,
                           channel=sent.channel)
    return sent
