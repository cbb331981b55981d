"""`gateway reconcile import-settlement|import-stripe|summary`: reconciliation from a terminal.

Exit codes (gateway/cli_errors.py): 0 done; 1 something to look at (rows
refused, a file whose header lacks the mapped columns, Stripe unreachable, a
summary that does not add up); 2 usage or configuration (a file that cannot
be read or written, an unknown mapping, --since after --until, no Stripe key).
Every refused row is printed as FILE:LINE: COLUMN: what is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path

from gateway.billing.stripe_client import StripeConfig, StripeFailure
from gateway.cli_errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandFailed, UsageError
from gateway.config import Settings
from gateway.finance.cli_io import day, write
from gateway.finance.formats import ColumnMapping, MappingError, get_mapping, load_mappings
from gateway.finance.importer import ImportResult, import_settlement
from gateway.finance.render import to_json
from gateway.finance.stripe_balance import import_stripe_api
from gateway.finance.summary import reconciliation
from gateway.store.db import create_pool

EXIT_CONFIG = EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    settlement = sub.add_parser("import-settlement", help="import a carrier or aggregator CSV")
    settlement.add_argument("file", type=Path)
    settlement.add_argument("--mapping", default=None,
                            help="column mapping (default: GATEWAY_FINANCE_DEFAULT_MAPPING)")
    stripe = sub.add_parser("import-stripe", help="import Stripe balance transactions")
    how = stripe.add_mutually_exclusive_group(required=True)
    how.add_argument("--api", action="store_true", help="list them through the Stripe API")
    how.add_argument("--csv", type=Path, metavar="FILE", help="a Dashboard or Reports export")
    stripe.add_argument("--mapping", default="stripe_balance",
                        help="for --csv: stripe_balance (default) or stripe_itemized")
    stripe.add_argument("--since", type=day, default=None, help="for --api: first day (UTC)")
    stripe.add_argument("--until", type=day, default=None,
                        help="for --api: the day after the last (UTC)")
    summary = sub.add_parser("summary", help="ledger = settled + pending + written off + "
                                             "unmatched, per source")
    summary.add_argument("--format", choices=("table", "json"), default="table")
    summary.add_argument("--exceptions-csv", type=Path, default=None, metavar="FILE",
                         help="write every exception (one row each) to FILE")


def run(settings: Settings, args: argparse.Namespace) -> int:
    data: bytes | None = None
    try:
        if args.action == "import-stripe" and args.api and settings.stripe_secret_key is None:
            raise UsageError("--api", "needs a Stripe key; set GATEWAY_STRIPE_SECRET_KEY")
        if args.action == "import-stripe" and args.since and args.until \
                and args.until <= args.since:
            raise UsageError("--until", f"{args.until} is not after --since {args.since}")
        mapping = None
        if args.action == "import-settlement" or getattr(args, "csv", None) is not None:
            path: Path = args.file if args.action == "import-settlement" else args.csv
            mapping = _mapping(settings, args.mapping or settings.finance_default_mapping)
            data = _read(path, "FILE" if args.action == "import-settlement" else "--csv")
        return asyncio.run(_run(settings, args, mapping, data))
    except StripeFailure as err:
        raise CommandFailed(str(err)) from None


def _mapping(settings: Settings, name: str) -> ColumnMapping:
    try:
        mappings = load_mappings(settings.finance_mappings)
    except MappingError as err:
        raise UsageError("GATEWAY_FINANCE_MAPPINGS", str(err)) from None
    try:
        return get_mapping(mappings, name)
    except MappingError as err:
        raise UsageError("--mapping", str(err)) from None


def _read(path: Path, argument: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise UsageError(argument, f"cannot read {path}: {err.strerror}") from None


async def _run(settings: Settings, args: argparse.Namespace, mapping: ColumnMapping | None,
               data: bytes | None) -> int:
    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        if args.action == "summary":
            found = await reconciliation(pool)
            write(to_json(found.as_dict()) if args.format == "json" else found.table(), None)
            if args.exceptions_csv is not None:
                write(found.exceptions_csv(), args.exceptions_csv, argument="--exceptions-csv")
            return EXIT_OK if found.identity_holds else EXIT_FAILED
        if mapping is not None and data is not None:
            path: Path = args.file if args.action == "import-settlement" else args.csv
            result = await import_settlement(pool, path.name, data, mapping)
        else:
            result = await import_stripe_api(
                pool, stripe_config(settings),
                created_from=_start_of(args.since), created_to=_start_of(args.until))
    finally:
        await pool.close()
    return _report(result)


def _report(result: ImportResult) -> int:
    for problem in result.problems:
        print(problem, file=sys.stderr)
    print(result.summary())
    return EXIT_FAILED if result.problems else EXIT_OK


def _start_of(day_: date | None) -> datetime | None:
    return None if day_ is None else datetime.combine(day_, time(), UTC)


def stripe_config(settings: Settings) -> StripeConfig:
    key, webhook = settings.stripe_secret_key, settings.stripe_webhook_secret
    assert key is not None
    return StripeConfig(
        api_key=key.get_secret_value(),
        webhook_secret=webhook.get_secret_value() if webhook is not None else "",
        api_base=settings.stripe_api_base,
        checkout_success_url=settings.stripe_checkout_success_url,
        checkout_cancel_url=settings.stripe_checkout_cancel_url)
