"""`gateway report donations|itemization`: finance's reports from a terminal.

Reads the database directly, like `gateway broadcast`: reports are read-only
and must work whether or not the gateway runs. Every argument is checked
before the database is opened, so a typo (`--timezone Eastern`) is one line
naming it, exit 2 (gateway/cli_errors.py), not a traceback after a query.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date
from pathlib import Path

from gateway.cli_errors import EXIT_OK, UsageError
from gateway.config import Settings
from gateway.finance.cli_io import day, period, time_zone, write
from gateway.finance.itemization import (
    THRESHOLD_CENTS,
    itemization,
    itemization_csv,
    itemization_json,
)
from gateway.finance.money import MoneyError, parse_amount
from gateway.finance.reports import GROUPS, donation_report
from gateway.store import finance as finance_store
from gateway.store.db import create_pool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
    donations = sub.add_parser("donations", help="gross, fees, net, refunds and disputes, "
                                                 "pending settlement, grouped")
    _period(donations)
    donations.add_argument("--group-by", choices=GROUPS, default="day")
    donations.add_argument("--format", choices=("table", "csv", "json"), default="table")
    items = sub.add_parser("itemization", help="each contribution of donors over $200 "
                                               "(name, address, employer, occupation)")
    _period(items)
    items.add_argument("--cycle-start", type=day, default=None,
                       help="aggregates count from this day (default: Jan 1 of the odd year "
                            "that starts the two-year cycle)")
    items.add_argument("--threshold", default="200.00", help="itemize donors over this amount")
    items.add_argument("--format", choices=("csv", "json"), default="csv")


def _period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="date_from", type=day, required=True,
                        help="first day (date of receipt), YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", type=day, required=True,
                        help="last day, included")
    parser.add_argument("--committee", default=None, help="default: every committee")
    parser.add_argument("--timezone", default=None,
                        help="whose calendar days (default: GATEWAY_ORGANIZATION_TIMEZONE)")
    parser.add_argument("--output", "-o", type=Path, default=None, help="default: stdout")


def run(settings: Settings, args: argparse.Namespace) -> int:
    period(args.date_from, args.date_to)
    zone = time_zone("--timezone", args.timezone) if args.timezone else \
        time_zone("GATEWAY_ORGANIZATION_TIMEZONE", settings.organization_timezone)
    threshold = THRESHOLD_CENTS
    if args.report == "itemization":
        start = args.cycle_start or cycle_start(args.date_from)
        if start > args.date_from:
            raise UsageError("--cycle-start", f"the cycle ({start}) must start by --from "
                                              f"({args.date_from})")
        try:
            threshold = parse_amount(args.threshold) if args.threshold else THRESHOLD_CENTS
        except (MoneyError, ValueError) as err:
            raise UsageError("--threshold", str(err)) from None
    return asyncio.run(_run(settings, args, zone, threshold))


async def _run(settings: Settings, args: argparse.Namespace, zone: str, threshold: int) -> int:
    out: bytes | str
    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        if args.committee is not None:
            async with pool.acquire() as conn:
                known = await finance_store.list_committees(conn)
            if args.committee not in known:
                raise UsageError("--committee", f"no donation was recorded for "
                                 f"{args.committee!r}; committees: {', '.join(known) or 'none'}")
        if args.report == "donations":
            report = await donation_report(
                pool, date_from=args.date_from, date_to=args.date_to, group_by=args.group_by,
                timezone=zone, committee=args.committee)
            out = report.csv() if args.format == "csv" else \
                report.json() if args.format == "json" else report.table()
        else:
            rows = await itemization(
                pool, committee=args.committee, date_from=args.date_from,
                date_to=args.date_to, timezone=zone,
                cycle_start=args.cycle_start or cycle_start(args.date_from),
                threshold_cents=threshold)
            out = itemization_csv(rows) if args.format == "csv" else itemization_json(rows)
    finally:
        await pool.close()
    write(out, args.output, argument="--output")
    return EXIT_OK


def cycle_start(day_in_cycle: date) -> date:
    """Federal two-year cycles start on January 1 of odd years."""
    year = day_in_cycle.year
    return date(year if year % 2 else year - 1, 1, 1)
