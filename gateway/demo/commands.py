"""`gateway demo seed`: the demo's story, for `make demo` (and anyone resetting a demo).

Exit codes as for every command (gateway/cli_errors.py): 0 seeded (or
already there); 1 the database is not marked as a demo database (nothing
written, the message says how to get one), or it failed; 2 a bad keywords
file or setting. The migrations are applied first, as `gateway migrate`
does, so the seed can run before the gateway starts: a gateway running at
the same time would send, bill and expire the story's messages on today's
clock while the seed writes them on the story's.
"""

from __future__ import annotations

import argparse
import asyncio

from gateway.cli_errors import EXIT_OK, CommandFailed, UsageError
from gateway.config import Settings
from gateway.demo.marker import NotADemoDatabase, require_demo_database
from gateway.demo.seed import seed
from gateway.engine import Rules
from gateway.engine.loader import RulesError, load_rules
from gateway.store.db import create_pool
from gateway.store.migrate import apply_migrations


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    sub.add_parser("seed", help="write the demo's made-up supporters, gifts and questions "
                   "(only into a database marked as the demo's; a second run adds nothing)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        rules = load_rules(settings.keywords)
    except RulesError as err:
        raise UsageError("GATEWAY_KEYWORDS", f"{settings.keywords} has {len(err.problems)} "
                         f"problem(s); see `gateway keywords check {settings.keywords}`") from None
    try:
        lines = asyncio.run(_seed(settings, rules))
    except NotADemoDatabase as err:
        raise CommandFailed(str(err)) from None
    for line in lines:
        print(line)
    return EXIT_OK


async def _seed(settings: Settings, rules: Rules) -> list[str]:
    pool = await create_pool(settings, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await require_demo_database(conn)  # before anything is written, migrations too
        await apply_migrations(pool)
        return (await seed(pool, settings, rules)).lines()
    finally:
        await pool.close()
