"""`gateway broadcast ...`: create, preview, control and watch broadcasts from a terminal.

Why the CLI talks to the database directly rather than to a running
gateway: every change is one guarded statement (see `control`), so it is
as safe from here as from the API, and it works while the gateway is down
(a broadcast scheduled tonight can be paused before anything starts).

`create` reads the keywords file (GATEWAY_KEYWORDS) for the known programs
and their promised frequency: an unknown --program is an error listing the
known ones, and a broadcast that would send anyone past the frequency is
refused unless --override-frequency (audit-logged). Exit codes as for every
command (gateway/cli_errors.py): a bad argument 2, a refusal 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import asyncpg

from gateway.broadcast import control, service
from gateway.broadcast.messages import BroadcastTextError, parse_text
from gateway.cli_errors import EXIT_OK, CommandFailed, UsageError
from gateway.config import Settings
from gateway.engine import RulesError, load_rules
from gateway.engine.rules import ProgramRules
from gateway.segments import SegmentError, parse_segment
from gateway.store import broadcasts as store
from gateway.store.db import create_pool

BAR_WIDTH = 30
COUNTS = ("queued", "deferred", "sending", "sent", "delivered", "failed", "suppressed")
FINAL = {"done", "cancelled"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="broadcast_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create a broadcast (or --preview it)")
    create.add_argument("--program", required=True)
    create.add_argument("--where", default="", help="segment filter; empty: every subscriber")
    create.add_argument("--text", required=True, help="template, {first_name|friend} fallbacks")
    create.add_argument("--at", default=None, help="ISO time with zone: schedule, not a draft")
    create.add_argument("--shortcode", default=None,
                        help="default: the configured short code when the program uses it, "
                             "else the program's first")
    create.add_argument("--by", default="cli", help="who creates it (stored)")
    create.add_argument("--preview", action="store_true", help="show samples, create nothing")
    create.add_argument("--override-frequency", action="store_true",
                        help="create it even if it sends people past their program's promised "
                             "frequency (audit-logged)")
    for action in ("start", "pause", "resume", "cancel"):
        one = sub.add_parser(action, help=f"{action} a broadcast")
        one.add_argument("id", type=int)
    progress = sub.add_parser("progress", help="queued, sent, delivered... of a broadcast")
    progress.add_argument("id", type=int)
    progress.add_argument("--follow", action="store_true", help="refresh until it is done")
    progress.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)


def run(settings: Settings, args: argparse.Namespace) -> int:
    programs, at = None, None
    if args.broadcast_command == "create":  # every argument checked before the database
        programs = _programs(settings)
        at = _parse_time(args.at) if args.at else None
        try:
            program = service.known_program(programs, args.program)
            args.shortcode = _shortcode(program, args.shortcode, settings.shortcode)
            parse_segment(args.where)
            parse_text(args.text)
        except service.UnknownProgram as err:
            raise UsageError("--program", str(err)) from None
        except SegmentError as err:
            raise UsageError("--where", str(err)) from None
        except BroadcastTextError as err:
            raise UsageError("--text", str(err)) from None
    return asyncio.run(_run(settings, args, programs, at))


def _shortcode(program: ProgramRules, given: str | None, configured: str) -> str:
    """The program's short code: a code it is not on would select nobody, in silence."""
    if given is None:
        return configured if configured in program.shortcodes else program.shortcodes[0]
    if given not in program.shortcodes:
        raise UsageError("--shortcode", f"program {program.id!r} is on "
                         f"{', '.join(program.shortcodes)}, not {given}")
    return given


def _programs(settings: Settings) -> dict[str, ProgramRules]:
    try:
        return dict(load_rules(settings.keywords).programs)
    except RulesError as err:
        raise UsageError("GATEWAY_KEYWORDS", f"{settings.keywords} has {len(err.problems)} "
                         f"problem(s); see `gateway keywords check {settings.keywords}`") from None


async def _run(settings: Settings, args: argparse.Namespace,
               programs: dict[str, ProgramRules] | None, at: datetime | None) -> int:
    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            return await _dispatch(conn, settings, args, programs, at)
    except service.UnknownProgram as err:
        raise UsageError("--program", str(err)) from None
    except SegmentError as err:
        raise UsageError("--where", str(err)) from None
    except BroadcastTextError as err:
        raise UsageError("--text", str(err)) from None
    except service.BroadcastError as err:
        raise CommandFailed(str(err)) from None
    finally:
        await pool.close()


async def _dispatch(conn: asyncpg.Connection, settings: Settings, args: argparse.Namespace,
                    programs: dict[str, ProgramRules] | None, at: datetime | None) -> int:
    action = args.broadcast_command
    if action == "create":
        assert programs is not None
        return await _create(conn, settings, args, programs, at)
    if action == "progress":
        return await _progress(conn, args.id, follow=args.follow, interval=args.interval)
    if action == "cancel":
        never = await control.cancel(conn, args.id)
        print(f"broadcast {args.id}: cancelled; {never} waiting messages will not be sent")
        return EXIT_OK
    changes = {"start": control.start, "pause": control.pause, "resume": control.resume}
    status = await changes[action](conn, args.id)
    print(f"broadcast {args.id}: {status}")
    return EXIT_OK


async def _create(conn: asyncpg.Connection, settings: Settings, args: argparse.Namespace,
                  programs: dict[str, ProgramRules], at: datetime | None) -> int:
    shortcode: str = args.shortcode
    now = datetime.now(UTC)
    found = await service.preview(
        conn, program=args.program, shortcode=shortcode, where=args.where, text=args.text,
        variables={"program": args.program, "shortcode": shortcode}, now=now,
        sample_size=5 if args.preview else 0, programs=programs,
    )
    base = found.text.base
    print(f"recipients: {found.recipients}")
    print(f"encoding: {'GSM-7' if base.encoding == 'gsm7' else 'UCS-2'}; "
          f"{base.segments} segment(s) per message ({base.characters} characters), "
          f"up to {found.text.worst_case_segments} when personalized")
    for warning in found.text.warnings:
        print(f"warning: {warning}")
    if args.preview:
        for msisdn, text in found.samples:
            print(f"  {msisdn}: {text}")
        print("preview only: nothing was created")
        return EXIT_OK
    async with conn.transaction():  # the broadcast and its override's audit row, together
        broadcast_id = await service.create(
            conn, program=args.program, shortcode=shortcode, where=args.where, text=args.text,
            created_by=args.by, scheduled_at=at, programs=programs,
            override_frequency=args.override_frequency, now=now,
        )
    state = f"scheduled for {at.isoformat()}" if at else "draft (start it to send)"
    print(f"broadcast {broadcast_id}: {state}")
    return EXIT_OK


def _parse_time(raw: str) -> datetime:
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError("--at", f"{raw!r}: use an ISO time like 2026-03-01T17:00:00-05:00"
                         ) from None
    if at.tzinfo is None:
        raise UsageError("--at", f"{raw!r}: give a time zone (Z or an offset like -05:00)")
    return at


async def _progress(
    conn: asyncpg.Connection, broadcast_id: int, *, follow: bool, interval: float
) -> int:
    out = sys.stdout
    live = follow and out.isatty()
    while True:
        progress = await store.get_progress(conn, broadcast_id)
        if progress is None:
            raise service.BroadcastError(f"broadcast {broadcast_id} does not exist")
        line = progress_line(progress)
        _show(out, line, live=live)
        if not follow or progress["status"] in FINAL:
            break
        await asyncio.sleep(interval)
    if live:
        out.write("\n")
    return EXIT_OK


def _show(out: TextIO, line: str, *, live: bool) -> None:
    """On a terminal the line redraws in place; piped, each refresh is its own line."""
    out.write(("\r\x1b[2K" + line) if live else line + "\n")
    out.flush()


def progress_line(progress: Mapping[str, Any]) -> str:
    """`[#####-----]  40% running  queued 10 deferred 0 ... of 25` for one refresh."""
    total = int(progress["recipients"])
    finished = sum(int(progress[k]) for k in ("sent", "failed", "suppressed", "cancelled"))
    share = finished / total if total else (1.0 if progress["status"] in FINAL else 0.0)
    filled = round(share * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    counts = " ".join(f"{name} {progress[name]}" for name in COUNTS)
    materializing = "" if progress["materialized_at"] else " (materializing)"
    return (f"[{bar}] {share:4.0%} {progress['status']}{materializing}  {counts}  "
            f"of {total}")
