"""`gateway privacy export|erase|retention`: data-protection requests from a terminal.

Why the CLI asks for `--yes` before erasing: erasure cannot be undone, and
a wrong number typed at a prompt is the likeliest mistake. `retention`
lists first (`--dry-run` is the default) and erases only with `--apply`.
Exit codes as for every command (gateway/cli_errors.py): 0 done; 2 a bad
argument (a number that is not a phone number, erase without --yes, an
--output that cannot be written) or no GATEWAY_PRIVACY_HASH_SECRET, checked
before the database is opened; 1 the database failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from gateway.cli_errors import EXIT_OK, UsageError
from gateway.config import Settings
from gateway.privacy import rights
from gateway.privacy.pseudonym import PrivacyKeyMissing
from gateway.store.db import create_pool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    export = sub.add_parser("export", help="everything held about a number or e-mail address "
                            "and its person, as JSON")
    export.add_argument("number")
    export.add_argument("--output", type=Path, default=None, help="file (default: stdout)")
    export.add_argument("--by", default="cli", help="who asks (recorded in the audit log)")
    erase = sub.add_parser("erase", help="erase a number or e-mail address and its person "
                           "(keeps opt-outs and donations)")
    erase.add_argument("number")
    erase.add_argument("--yes", action="store_true", help="really erase (cannot be undone)")
    erase.add_argument("--by", default="cli", help="who asks (recorded in the audit log)")
    retention = sub.add_parser("retention", help="contacts idle past the retention period")
    retention.add_argument("--apply", action="store_true", help="erase them (default: list)")
    retention.add_argument("--limit", type=_positive, default=10_000)


def _positive(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


_positive.__name__ = "positive whole number"  # argparse: "invalid positive whole number value"


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.privacy_command in {"export", "erase"}:
        try:
            rights.normalize(args.number)  # a typo is reported before anything else
        except rights.PrivacyError as err:
            raise UsageError("NUMBER", str(err)) from None
    if args.privacy_command == "erase" and not args.yes:
        raise UsageError("--yes", f"erasing cannot be undone; add --yes to erase {args.number}")
    erases = args.privacy_command == "erase" or (args.privacy_command == "retention"
                                                 and args.apply)
    if erases and settings.privacy_hash_secret is None:
        raise UsageError("GATEWAY_PRIVACY_HASH_SECRET", "erasing keeps the opt-out as a keyed "
                         "hash; set this secret first")
    try:
        return asyncio.run(_run(settings, args))
    except PrivacyKeyMissing as err:
        raise UsageError("GATEWAY_PRIVACY_HASH_SECRET", str(err)) from None


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    pool = await create_pool(settings, min_size=1, max_size=1)
    now = datetime.now(UTC)
    try:
        async with pool.acquire() as conn:
            if args.privacy_command == "export":
                document = await rights.export(conn, args.number, by=args.by, now=now,
                                               settings=settings)
                text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
                if args.output is None:
                    print(text)
                else:
                    _write(args.output, text + "\n")
                    print(f"wrote {args.output}")
            elif args.privacy_command == "erase":
                report = await rights.erase(conn, args.number, by=args.by, settings=settings)
                touched = {t: n for t, n in report.rows.items() if n}
                print(f"erased {args.number} -> {report.pseudonym}")
                for table, count in sorted(touched.items()):
                    print(f"  {table}: {count}")
                if report.kept_opt_out_for:
                    print(f"  opt-out kept (keyed hash) for {', '.join(report.kept_opt_out_for)}")
            else:
                return await _retention(conn, settings, args, now)
    finally:
        await pool.close()
    return EXIT_OK


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UsageError("--output", f"cannot write {path}: {err.strerror}") from None


async def _retention(conn: asyncpg.Connection, settings: Settings, args: argparse.Namespace,
                     now: datetime) -> int:
    idle = await rights.idle_contacts(conn, settings=settings, now=now, limit=args.limit)
    days = settings.privacy_retention_days
    if not args.apply:
        withheld = await rights.withheld_calls_due(conn, settings=settings, now=now,
                                                   limit=args.limit)
        for address, last in idle:
            print(f"{address}\tlast activity {last:%Y-%m-%d}")
        print(f"{len(idle)} contact(s) (numbers and e-mail addresses) idle for more than "
              f"{days} days, and {len(withheld)} "
              f"call(s) from withheld numbers older than that; --apply erases them")
        return EXIT_OK
    reports = await rights.apply_retention(conn, settings=settings, now=now, limit=args.limit)
    rows = await rights.erase_withheld_calls(conn, settings=settings, now=now,
                                             limit=args.limit)
    print(f"erased {len(reports)} contact(s) idle for more than {days} days, and "
          f"{rows.get('calls', 0)} call(s) from withheld numbers with their "
          f"{rows.get('voice_recordings', 0)} recording(s)")
    return EXIT_OK
