"""Contact tags (migration 440): the one writer of `contact_tags`.

Why tags are rows per number rather than a profile field: a tag is put on by
staff, by a keyword or by an import, never answered by the supporter, and a
segment asks "has any of these tags" across every short code; an indexed
(tag, msisdn) pair answers that without reading anyone's state. Tagging is
idempotent: the first row (who, how, when) stays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.plain_words import N_, said
from gateway.store.db import affected

TAG: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
SOURCES: Final = ("hand", "keyword", "import")

TAG_NUMBERS = """
INSERT INTO contact_tags (msisdn, tag, source, tagged_by)
SELECT DISTINCT n, $2, $3, $4 FROM unnest($1::text[]) AS n
ON CONFLICT (msisdn, tag) DO NOTHING
"""

# The pipeline's batch: one row per (number, tag) a keyword put on, at the MO's time.
INSERT_BATCH = """
INSERT INTO contact_tags (msisdn, tag, source, tagged_by, tagged_at)
SELECT k.msisdn, k.tag, 'keyword', k.keyword, k.at
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS k(msisdn, tag, keyword, at)
ON CONFLICT (msisdn, tag) DO NOTHING
"""

UNTAG = "DELETE FROM contact_tags WHERE msisdn = $1 AND tag = $2"

DELETE_OF = "DELETE FROM contact_tags WHERE msisdn = $1"

TAGS_OF = """
SELECT tag, source, tagged_by, tagged_at FROM contact_tags WHERE msisdn = $1 ORDER BY tag
"""

ALL_TAGS = "SELECT tag, count(*) AS numbers FROM contact_tags GROUP BY tag ORDER BY tag"


class BadTag(ValueError):
    """A tag that is not lower-case letters, digits, '-' or '_' (1 to 40, starting with one)."""


@dataclass(frozen=True, slots=True)
class Tag:
    tag: str
    source: str
    tagged_by: str | None
    tagged_at: datetime


@dataclass(frozen=True, slots=True)
class NewTag:
    """A tag a keyword put on, written in the MO's transaction (pipeline/decide.py)."""

    msisdn: str
    tag: str
    keyword: str
    at: datetime


def normalized(tag: str) -> str:
    """The tag as stored (trimmed, lower case); BadTag when it cannot be one."""
    value = tag.strip().lower()
    if not TAG.fullmatch(value):
        raise BadTag(said(N_("%(tag)r is not a tag: use 1 to 40 lower-case letters, digits, '-' or "
                             "'_', starting with a letter or digit (e.g. volunteer, "
                             "door-knock-2026)"), tag=tag))
    return value


async def tag_numbers(conn: asyncpg.Connection, tag: str, numbers: Sequence[str], *,
                      source: str = "import", by: str | None = None) -> int:
    """Put `tag` on every number (E.164, already normalized); how many were new.

    The seam for imports and the send API: one set-based statement, so a
    500,000-row file tags in one round trip; a number already tagged keeps its
    first row.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    return affected(await conn.execute(TAG_NUMBERS, list(numbers), normalized(tag), source, by))


async def insert_batch(conn: asyncpg.Connection, rows: Sequence[NewTag]) -> None:
    if rows:
        await conn.execute(INSERT_BATCH, [r.msisdn for r in rows], [r.tag for r in rows],
                           [r.keyword for r in rows], [r.at for r in rows])


async def untag(conn: asyncpg.Connection, msisdn: str, tag: str) -> bool:
    return affected(await conn.execute(UNTAG, msisdn, tag)) > 0


async def delete_of(conn: asyncpg.Connection, msisdn: str) -> int:
    """Erasure's step (store/privacy.py): the number's tags go with it."""
    return affected(await conn.execute(DELETE_OF, msisdn))


async def tags_of(conn: asyncpg.Connection, msisdn: str) -> list[Tag]:
    return [Tag(**dict(r)) for r in await conn.fetch(TAGS_OF, msisdn)]


async def all_tags(conn: asyncpg.Connection) -> list[tuple[str, int]]:
    """Every tag in use with how many numbers carry it (the search's choices)."""
    return [(r["tag"], int(r["numbers"])) for r in await conn.fetch(ALL_TAGS)]
