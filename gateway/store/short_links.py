"""Tracked short links (migrations 450, 480): the one writer of `short_links` and `link_clicks`.

A broadcast's batch writes each recipient's links with its outbox row, in the
batch's transaction (store/broadcasts.py `materialize_batch`), and a keyword
reply's links are written in its MO's transaction with the reply's outbox row
(pipeline/reply_links.py), so a text is never sent with a token that leads
nowhere. A click is one statement that
counts it and returns where to go: the redirect must stay fast.

Why the token is stored as written, under a UNIQUE index, not hashed: the
same token is in the outbox row's text (the supporter's SMS), so a hash here
would hide nothing the database does not already hold; the index makes an
unknown token one probe and a 404.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.store.db import affected

INSERT_LINKS = """
INSERT INTO short_links (token, broadcast_id, msisdn, shortcode, position, destination)
SELECT k.token, $1, k.msisdn, $2, k.position, k.destination
FROM unnest($3::text[], $4::text[], $5::int2[], $6::text[])
     AS k(token, msisdn, position, destination)
ON CONFLICT (broadcast_id, msisdn, position) DO NOTHING
"""

# A keyword reply's links (no broadcast: the MO it answered says where it came from).
INSERT_REPLY_LINKS = """
INSERT INTO short_links (token, in_reply_to, msisdn, shortcode, position, destination)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int2[], $6::text[])
"""

# A person's click: counted on the link and logged (for totals and the timeline).
PERSON_CLICK = """
WITH link AS (
    UPDATE short_links
    SET clicks = clicks + 1, first_clicked_at = coalesce(first_clicked_at, $2)
    WHERE token = $1
    RETURNING id, broadcast_id, in_reply_to, msisdn, shortcode, destination, clicks
), logged AS (
    INSERT INTO link_clicks (link_id, clicked_at) SELECT id, $2 FROM link
)
SELECT id, broadcast_id, in_reply_to, msisdn, shortcode, destination, clicks FROM link
"""

# A preview bot or prefetcher: only its own counter moves.
BOT_VISIT = """
UPDATE short_links SET bot_visits = bot_visits + 1 WHERE token = $1
RETURNING id, broadcast_id, in_reply_to, msisdn, shortcode, destination, clicks
"""

# Per broadcast: links followed at least once (unique) and every click (total).
CLICKS_OF = """
SELECT count(*) FILTER (WHERE clicks > 0) AS unique_clicks,
       coalesce(sum(clicks), 0)::bigint AS total_clicks,
       count(DISTINCT msisdn) FILTER (WHERE clicks > 0) AS people,
       coalesce(sum(bot_visits), 0)::bigint AS bot_visits
FROM short_links WHERE broadcast_id = $1
"""

PSEUDONYMIZE = "UPDATE short_links SET msisdn = $2 WHERE msisdn = $1"


@dataclass(frozen=True, slots=True)
class FollowedLink:
    id: int
    broadcast_id: int | None  # None: a keyword reply's link
    in_reply_to: int | None  # the MO a reply's link answered
    msisdn: str
    shortcode: str
    destination: str
    clicks: int  # the person's clicks on it so far (this one included)


@dataclass(frozen=True, slots=True)
class Clicks:
    unique: int  # links followed at least once by a person (once per token)
    total: int  # every click by a person
    people: int  # recipients who followed at least one of the broadcast's links
    bot_visits: int  # link previews and prefetchers, not counted above


async def insert_links(
    conn: asyncpg.Connection, *, broadcast_id: int, shortcode: str,
    destinations: Mapping[int | None, Sequence[str]],
    linked: Sequence[tuple[str, Sequence[str], int | None]],
) -> int:
    """Each (number, tokens, variant) recipient's links: token i leads to the i-th link of
    its variant's text (`destinations`; a variant with fewer links leaves tokens unused)."""
    tokens: list[str] = []
    numbers: list[str] = []
    positions: list[int] = []
    targets: list[str] = []
    for msisdn, row_tokens, variant in linked:
        for position, (token, target) in enumerate(zip(row_tokens, destinations[variant],
                                                       strict=False)):
            tokens.append(token)
            numbers.append(msisdn)
            positions.append(position)
            targets.append(target)
    return affected(await conn.execute(
        INSERT_LINKS, broadcast_id, shortcode, tokens, numbers, positions, targets))


@dataclass(frozen=True, slots=True)
class NewReplyLink:
    token: str
    in_reply_to: int  # the MO the reply answered
    msisdn: str
    shortcode: str
    position: int  # the link's place among the links of that MO's replies
    destination: str


async def insert_reply_links(conn: asyncpg.Connection, links: Sequence[NewReplyLink]) -> None:
    """A keyword reply's links, in its MO's transaction (nothing when there are none)."""
    if not links:
        return
    await conn.execute(
        INSERT_REPLY_LINKS, [k.token for k in links], [k.in_reply_to for k in links],
        [k.msisdn for k in links], [k.shortcode for k in links], [k.position for k in links],
        [k.destination for k in links])


async def follow(
    conn: asyncpg.Connection, token: str, *, at: datetime, by_person: bool
) -> FollowedLink | None:
    """Count a visit to `token` (a person's click or a bot's); None: no such link."""
    if by_person:
        row = await conn.fetchrow(PERSON_CLICK, token, at)
    else:
        row = await conn.fetchrow(BOT_VISIT, token)
    return None if row is None else FollowedLink(**dict(row))


async def clicks_of(conn: asyncpg.Connection, broadcast_id: int) -> Clicks:
    row = await conn.fetchrow(CLICKS_OF, broadcast_id)
    return Clicks(row["unique_clicks"], row["total_clicks"], row["people"], row["bot_visits"])


async def pseudonymize(conn: asyncpg.Connection, msisdn: str, pseudonym: str) -> int:
    """Erasure: the links stay (the broadcast's counts), under the pseudonym."""
    return affected(await conn.execute(PSEUDONYMIZE, msisdn, pseudonym))
