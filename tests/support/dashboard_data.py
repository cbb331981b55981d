"""A campaign's worth of rows for the dashboard tests, written by the real pipeline.

Opt-ins, STOPs, replies and questions go through the pipeline writer
(tests/support/questions.py `Supporter`), gifts through the ledger helper, a
broadcast's texts are outbox rows as the sender leaves them. Times are fixed
around NOW (noon in New York on 2024-07-10) so each number is known.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.config import Settings
from tests.support.finance_ledger import gift
from tests.support.pages_site import start_site
from tests.support.questions import EDU_TEXT, SECURITY_TEXT, Supporter, asked
from tests.support.webapi import WebApi

US, FR = "12345", "38200"
NOW = datetime(2024, 7, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York
ANA, BEN, CAL, OLD = "+12125550101", "+12125550102", "+12125550103", "+12125550104"
DEL = "+33600000201"


def utc(day: int, hour: int, minute: int = 0, month: int = 7) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


async def join(pool: asyncpg.Pool, msisdn: str, word: str, at: datetime,
               code: str = US) -> None:
    """Text `word`; on the double opt-in US code, confirm with Y a minute later."""
    person = Supporter(pool, msisdn, code)
    await person.text(word, at)
    if code == US:
        await person.text("Y", at + timedelta(minutes=1))


async def broadcast(conn: asyncpg.Connection, text: str, sent: dict[str, datetime | None]
                    ) -> int:
    """A broadcast and its outbox rows: a time for a text the SMSC took, None for one
    still queued (never sent)."""
    bid: int = await conn.fetchval(
        "INSERT INTO broadcasts (program, shortcode, template, status, created_by)"
        " VALUES ('rise', $1, $2, 'running', 'organizer@example.org') RETURNING id", US, text)
    for msisdn, at in sent.items():
        await conn.execute(
            "INSERT INTO outbound (msisdn, shortcode, body, broadcast_id, status, submitted_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            msisdn, US, text, bid, "queued" if at is None else "delivered", at)
    return bid


async def seed(pool: asyncpg.Pool) -> tuple[int, int]:
    await join(pool, OLD, "JOIN", utc(1, 15, month=6))  # 39 days ago: in 90 days, not 30
    await join(pool, ANA, "JOIN", utc(3, 14))
    await join(pool, BEN, "RISE", utc(9, 3))  # an alias of JOIN; 23:00 on July 8 in New York
    await join(pool, CAL, "JOIN", utc(10, 13))
    await join(pool, DEL, "ADHERER", utc(9, 12), code=FR)  # single opt-in
    async with pool.acquire() as conn:
        rally = await broadcast(conn, "Rally Saturday at noon!", {ANA: utc(5, 10)})
        vote = await broadcast(conn, "Vote early this week.",
                               {ANA: utc(10, 10), BEN: utc(10, 10), CAL: None})
        # Ana gives 8h after the rally text (credited to it), then exactly 24h after it
        # (not credited: the window is [sent, sent + 24h)); gifts are confirmed 1 min in.
        await gift(conn, msisdn=ANA, amount=1_000, at=utc(5, 17, 59))
        await gift(conn, msisdn=ANA, amount=500, at=utc(6, 9, 59))
        # Ben gives after the vote text; Cal's text never went out: not credited.
        await gift(conn, msisdn=BEN, amount=2_500, at=utc(10, 12))
        await gift(conn, msisdn=CAL, amount=700, at=utc(10, 12))
    await Supporter(pool, BEN, US).text("hello", utc(10, 11))
    await Supporter(pool, ANA, US).text("STOP", utc(10, 15))
    await asked(pool, "+33600000301", EDU_TEXT, utc(10, 15))  # due in 2 days
    await asked(pool, "+33600000302", EDU_TEXT, utc(1, 15))  # overdue since July 3
    await asked(pool, "+33600000303", SECURITY_TEXT, utc(9, 15))
    return rally, vote




@pytest.fixture
async def site_at_noon(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    """The pages at the story's NOW, days cut in New York's zone (import it to use it)."""
    web = await start_site(pool, settings, clock=lambda: NOW,
                           organization_timezone="America/New_York")
    try:
        yield web
    finally:
        await web.client.close()
