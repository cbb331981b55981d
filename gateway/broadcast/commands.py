"""`gateway broadcast ...`: create, preview, control and watch broadcasts from a terminal.

Why the CLI talks to the database directly rather than to a running
gateway: every change is one guarded statement (see `control`), so it is
as safe from here as from the API, and it works while the gateway is down
(a broadcast scheduled tonight can be paused before anything starts).

`create` reads the keywords file (GATEWAY_KEYWORDS) for the known programs,
their profile fields and their promised frequency: an unknown --program is
an error listing the known ones, and a broadcast that would send anyone past
the frequency is refused unless --override-frequency (audit-logged). Exit
codes as for every command (gateway/cli_errors.py): a bad argument 2, a
refusal 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import asyncpg

from gateway.audience import AudienceError, parse_audience
from gateway.broadcast import control, held, send_time, service
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.messages import BroadcastTextError, parse_text
from gateway.broadcast.quiet_hours import DEFAULT_HORIZON
from gateway.cli_errors import EXIT_OK, CommandFailed, UsageError
from gateway.config import Settings
from gateway.engine import Rules, RulesError, load_rules
from gateway.plain_words import N_, said
from gateway.store import broadcasts as store
from gateway.store.db import create_pool

BAR_WIDTH = 30
COUNTS = ("queued", "deferred", "sending", "sent", "delivered", "failed", "suppressed")
FINAL = {"done", "cancelled"}
# a refused field as its command-line option
OPTIONS = {"program": "--program", "shortcode": "--shortcode", "where": "--where",
           "text": "--text", "scheduled_at": "--at", "time_zone": "--zone"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="broadcast_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create a broadcast (or --preview it)")
    create.add_argument("--program", required=True)
    create.add_argument("--where", default="", help="audience filter; empty: every subscriber")
    create.add_argument("--text", required=True, help="template, {first_name|friend} fallbacks")
    create.add_argument("--at", default=None,
                        help="send time, schedule rather than a draft: 2026-03-01T17:00-05:00, "
                             "or a local time with --zone (or [America/New_York] after it)")
    create.add_argument("--zone", default=None,
                        help="IANA time zone of a local --at, e.g. America/New_York")
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
    try:
        if args.broadcast_command == "create":  # every argument checked before the database
            rules = _rules(settings)
            args.shortcode = service.shortcode_of(rules, args.program, args.shortcode,
                                                  settings.shortcode)
            if args.at:
                send_time.parse(args.at, args.zone)
            elif args.zone:
                send_time.parse_zone(args.zone)
            parse_audience(args.where)
            parse_text(args.text)
        return asyncio.run(_run(settings, args))
    except ComposeError as err:
        raise UsageError(OPTIONS.get(err.field, err.field), err.message) from None
    except AudienceError as err:
        raise UsageError("--where", str(err)) from None
    except BroadcastTextError as err:
        raise UsageError("--text", str(err)) from None
    except service.BroadcastError as err:
        raise CommandFailed(str(err)) from None


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            return await _dispatch(conn, settings, args)
    finally:
        await pool.close()


async def _dispatch(conn: asyncpg.Connection, settings: Settings, args: argparse.Namespace) -> int:
    action = args.broadcast_command
    if action == "create":
        return await _create(conn, settings, args)
    if action == "progress":
        return await _progress(conn, args.id, follow=args.follow, interval=args.interval,
                               zone=send_time.organizer_zone(settings))
    if action == "cancel":
        never = await control.cancel(conn, args.id)
        print(f"broadcast {args.id}: cancelled; {never} waiting messages will not be sent")
        return EXIT_OK
    changes = {"start": control.start, "pause": control.pause, "resume": control.resume}
    status = await changes[action](conn, args.id)
    print(f"broadcast {args.id}: {status}")
    return EXIT_OK


async def _create(conn: asyncpg.Connection, settings: Settings, args: argparse.Namespace) -> int:
    rules = _rules(settings)
    shortcode = service.shortcode_of(rules, args.program, args.shortcode, settings.shortcode)
    zone = send_time.organizer_zone(settings)
    at = send_time.parse(args.at, args.zone) if args.at else None
    if args.zone and not args.at:
        send_time.parse_zone(args.zone)
    now = datetime.now(UTC)
    found = await service.preview(
        conn, rules=rules, program=args.program, shortcode=shortcode, where=args.where,
        text=args.text, variables=service.variables_of(args.program, shortcode), now=now,
        sample_size=5 if args.preview else 0, link_base=settings.link_base(),
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
            conn, rules=rules, program=args.program, shortcode=shortcode, where=args.where,
            text=args.text, created_by=args.by, now=now, scheduled_at=at, zone=zone,
            override_frequency=args.override_frequency,
        )
    state = (f"scheduled for {send_time.show(at, zone)}, {at.isoformat()}" if at
             else "draft (start it to send)")
    print(f"broadcast {broadcast_id}: {state}")
    return EXIT_OK


def _rules(settings: Settings) -> Rules:
    """The keywords file the gateway runs with: programs, profile fields, languages."""
    try:
        return load_rules(settings.keywords)
    except RulesError as err:
        raise UsageError("GATEWAY_KEYWORDS", f"{settings.keywords} has {len(err.problems)} "
                         f"problem(s); see `gateway keywords check {settings.keywords}`") from None


async def _progress(
    conn: asyncpg.Connection, broadcast_id: int, *, follow: bool, interval: float, zone: str
) -> int:
    out = sys.stdout
    live = follow and out.isatty()
    held_for: int | None = None  # the deferred count the held lines were shown for
    while True:
        progress = await store.get_progress(conn, broadcast_id)
        if progress is None:
            raise service.BroadcastError(said(N_("broadcast %(broadcast_id)s does not exist"),
                                              broadcast_id=broadcast_id))
        # Held groups cost a scan of the waiting rows (0.7 s for 200,000): shown at the start,
        # then again when the deferred count moves, and never under a redrawn line.
        if held_for is None or (not live and progress["deferred"] != held_for):
            groups = await held.held_groups(conn, broadcast_id, now=datetime.now(UTC))
            for text in held_lines(groups, zone):
                out.write(text + "\n")
            held_for = int(progress["deferred"])
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
    skipped = int(progress.get("over_frequency") or 0)
    left_out = f" ({skipped} left out: at the promised frequency)" if skipped else ""
    return (f"[{bar}] {share:4.0%} {progress['status']}{materializing}  {counts}  "
            f"of {total}{left_out}")


def held_lines(groups: list[held.HeldGroup], zone: str) -> list[str]:
    """`held: 120 in America/Los_Angeles until 2026-... (allowed there 08:00-21:00)`."""
    return [
        f"held: {g.waiting} in {', '.join(g.zones)} until "
        + (send_time.show(g.release_at, zone) if g.release_at else
           f"no allowed time within {DEFAULT_HORIZON.days} days (check the quiet-hours rules)")
        + f" (allowed there {g.window})"
        for g in groups
    ]
