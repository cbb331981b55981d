"""Tags by hand: an organizer puts a tag on a number, or takes it off, from its page.

Keywords tag in the MO's own transaction (pipeline/event_handlers.py) and
imports call store/tags.py `tag_numbers` directly; a tag by hand is a staff
action on one contact, so it is audit-logged here, with the change, like
every other change staff make to a contact.
"""

from __future__ import annotations

import asyncpg

from gateway.plain_words import N_, reason, said
from gateway.services import audit
from gateway.services.actor import Identity
from gateway.services.errors import invalid, not_found
from gateway.store import tags as store


async def add(conn: asyncpg.Connection, actor: Identity, client: str, msisdn: str,
              tag: str) -> str:
    """The tag as stored; a refusal naming the field when it cannot be a tag."""
    try:
        value = store.normalized(tag)
    except store.BadTag as err:
        raise invalid(reason(err), field="tag") from None
    async with conn.transaction():
        added = await store.tag_numbers(conn, value, [msisdn], source="hand", by=actor.email)
        if added:
            await audit.record(conn, actor, audit.CONTACT_TAGGED, f"contact:{msisdn}",
                               client=client, tag=value)
    return value


async def remove(conn: asyncpg.Connection, actor: Identity, client: str, msisdn: str,
                 tag: str) -> None:
    async with conn.transaction():
        if not await store.untag(conn, msisdn, tag):
            raise not_found(said(N_("tag %(tag)r on %(msisdn)s"), tag=tag, msisdn=msisdn))
        await audit.record(conn, actor, audit.CONTACT_UNTAGGED, f"contact:{msisdn}",
                           client=client, tag=tag)
