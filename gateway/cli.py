"""The `gateway` command: run, migrate, simulate, and check keyword files.

Why subcommand modules are imported lazily: `gateway version` and
`gateway keywords check` must work (and fail clearly) without importing the
SMPP stack or the web server, and a piece that is missing from an install
names itself instead of crashing the whole command at import.

Exit codes (gateway/cli_errors.py has the full table, the same for every
subcommand): 0 ok, 1 the command failed (database down, bad keywords file,
a refusal, a background task of `gateway run` died), 2 bad configuration or
usage (a bad argument, named in one line). Every bad setting is reported in
one message. No error prints a traceback unless GATEWAY_TRACEBACK=1 asks for
one (for a bug report).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from gateway import __version__
from gateway.cli_errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandFailed,
    Parser,
    UsageError,
    say,
)
from gateway.config import ConfigError, Settings, load_settings
from gateway.logs import configure_logging
from gateway.store.db import DatabaseUnavailable, create_pool
from gateway.store.migrate import MigrationError, apply_migrations

EXIT_CONFIG = EXIT_USAGE
INTERRUPTED = 130  # 128 + SIGINT, as shells report it
TOOLS = {
    "smsc": ("gateway.smpp.simulator_cli", "run an SMSC simulator (with a phone port for `chat`)"),
    "chat": ("gateway.smpp.chat", "a terminal phone that texts the simulator"),
}
# Commands whose actions and options live in their own module, which exposes
# `add_arguments(parser)` and `run(settings, args) -> int`; parsed in _delegate.
DELEGATED = {
    "broadcast": ("gateway.broadcast.commands",
                  "create, preview, start, pause, resume, cancel, progress"),
    "user": ("gateway.web.user_commands", "add staff accounts (the first admin) and API tokens"),
    "report": ("gateway.finance.report_cli", "donation reports and the itemization export"),
    "reconcile": ("gateway.finance.reconcile_cli", "import settlements, summarize, exceptions"),
    "privacy": ("gateway.privacy.commands", "export or erase a number's data; retention"),
    "demo": ("gateway.demo.commands", "seed the demo database with its made-up story"),
}
T = TypeVar("T")


class CommandUnavailable(Exception):
    """A subcommand's module is not part of this install."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gateway", description="SMS short-code gateway.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="start the gateway (applies migrations first)")
    _add_config_option(run)
    run.add_argument("--no-migrate", action="store_true", help="do not apply migrations on start")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="worker processes, each with its own SMPP bind (default: "
                          "GATEWAY_WORKERS, 1); docs/operations.md")
    # Set by the supervisor for its workers (gateway/workers/), not by people.
    run.add_argument("--worker-status-fd", type=int, default=None, help=argparse.SUPPRESS)
    run.add_argument("--no-web", action="store_true", help=argparse.SUPPRESS)
    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    _add_config_option(migrate)
    migrate.add_argument("--dir", type=Path, default=None, help="default: migrations/")
    for name, (_, text) in TOOLS.items():
        # Their options belong to their own modules; parsed in _run_tool.
        sub.add_parser(name, help=text, add_help=False)
    for name, (_, text) in DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    keywords = sub.add_parser("keywords", help="work with a keywords file")
    keywords_sub = keywords.add_subparsers(dest="keywords_command", required=True)
    check = keywords_sub.add_parser("check", help="validate a keywords file, list every problem")
    check.add_argument("file", type=Path)
    sub.add_parser("version", help="print the version")
    return parser


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=None, help="TOML settings file (under the environment)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if extra and args.command not in {*TOOLS, *DELEGATED}:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _main(args, extra)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return EXIT_CONFIG
    except UsageError as err:
        say(args.command, err)
        return EXIT_USAGE
    except (DatabaseUnavailable, MigrationError, CommandUnavailable, CommandFailed) as err:
        say(args.command, err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        say(args.command, "interrupted")
        return INTERRUPTED
    except Exception as err:  # a bug or an unforeseen failure: still one line, no traceback
        if os.environ.get("GATEWAY_TRACEBACK") == "1":
            raise
        say(args.command, f"failed: {type(err).__name__}: {err} "
                          "(GATEWAY_TRACEBACK=1 shows where)")
        return EXIT_FAILED


def _main(args: argparse.Namespace, extra: list[str]) -> int:
    try:
        if args.command in TOOLS:
            return _run_tool(args.command, extra)
        if args.command == "run":
            return _run(args)
        if args.command in DELEGATED:
            return _delegate(args.command, extra)
        if args.command == "migrate":
            return _migrate(args)
        if args.command == "keywords":
            return _check_keywords(args.file)
        print(f"gateway {__version__}")
        return EXIT_OK
    except OSError as err:  # a socket or file the command needed, not a bad argument
        raise CommandFailed(_os_error(err)) from err


def _os_error(err: OSError) -> str:
    where = f" {err.filename}" if err.filename else ""
    return f"{err.strerror or err}{':' if where else ''}{where}"


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(os.environ, toml_path=args.config)
    configure_logging(settings.log_level)
    return settings


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    workers = settings.workers if args.workers is None else args.workers
    if not 1 <= workers <= 64:
        raise UsageError("--workers", f"{workers} is not between 1 and 64")
    run_gateway = _import("gateway.app", "gateway run").run_gateway
    loader = _import("gateway.engine.loader", "gateway run")
    tasks = _import("gateway.tasks", "gateway run")
    migrate = settings.migrate_on_start and not args.no_migrate
    if workers > 1:
        return _supervise(args, settings, workers, migrate=migrate)
    loop_factory = _import("uvloop", "gateway run").new_event_loop if settings.uvloop else None
    try:
        run_until_signalled(run_gateway(settings, migrate=migrate, web=not args.no_web,
                                        status_fd=args.worker_status_fd),
                            loop_factory=loop_factory)
    except loader.RulesError as err:  # refuse to start on a bad keywords file
        _print_problems(settings.keywords, err.problems)
        return EXIT_FAILED
    except tasks.BackgroundTaskDied as err:  # stopped on its own: a supervisor restarts it
        print(f"gateway: {err}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _supervise(args: argparse.Namespace, settings: Settings, workers: int, *,
               migrate: bool) -> int:
    """Check the keywords file and migrate once, then start the workers (gateway/workers/)."""
    loader = _import("gateway.engine.loader", "gateway run")
    supervisor = _import("gateway.workers.supervisor", "gateway run")
    try:
        loader.load_rules(settings.keywords)
    except loader.RulesError as err:  # the workers would refuse it one after the other
        _print_problems(settings.keywords, err.problems)
        return EXIT_FAILED
    if migrate:
        asyncio.run(_apply_migrations(settings, None))
    result: int = supervisor.supervise(settings, workers, config=args.config)
    return result


def _delegate(name: str, argv: list[str]) -> int:
    module_name, text = DELEGATED[name]
    commands = _import(module_name, f"gateway {name}")
    parser = Parser(prog=f"gateway {name}", description=text)
    _add_config_option(parser)
    commands.add_arguments(parser)
    args = parser.parse_args(argv)
    result: int = commands.run(_settings(args), args)
    return result


def _print_problems(path: Path, problems: list[str]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    count = len(problems)
    print(f"{path}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)


def _migrate(args: argparse.Namespace) -> int:
    if args.dir is not None and not args.dir.is_dir():
        raise UsageError("--dir", f"{args.dir} is not a directory of migrations")
    settings = _settings(args)
    applied = asyncio.run(_apply_migrations(settings, args.dir))
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print("database schema is up to date")
    return EXIT_OK


async def _apply_migrations(settings: Settings, directory: Path | None) -> list[str]:
    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        return await apply_migrations(pool, directory)
    finally:
        await pool.close()


def _check_keywords(path: Path) -> int:
    loader = _import("gateway.engine.loader", "gateway keywords check")
    try:
        loader.load_rules(path)
    except loader.RulesError as err:
        _print_problems(path, err.problems)
        return EXIT_FAILED
    except OSError as err:
        raise UsageError("FILE", f"cannot read {path}: {err.strerror}") from None
    print(f"{path}: ok")
    return EXIT_OK


def _run_tool(name: str, argv: list[str]) -> int:
    module_name, text = TOOLS[name]
    module = _import(module_name, f"gateway {name}")
    parser = Parser(prog=f"gateway {name}", description=text)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    level = os.environ.get("GATEWAY_LOG_LEVEL", "info")
    configure_logging(level if level in {"debug", "info", "warning", "error"} else "info")
    result = run_until_signalled(module.main(args))
    return EXIT_OK if result is None else int(result)


def _import(module_name: str, command: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name or module_name.startswith(f"{err.name}."):
            raise CommandUnavailable(
                f"`{command}` is not available: {module_name} is missing"
            ) from err
        raise


def run_until_signalled(main: Coroutine[Any, Any, T], *,
                        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
                        ) -> T | None:
    """Run `main`; SIGTERM or SIGINT cancels it so its own cleanup runs, then returns None.

    Cancellation rather than a flag: every await in the gateway is already a
    cancellation point, so one mechanism stops sessions, workers and the web
    server in their `finally` blocks, in order. `loop_factory`: uvloop's for
    `gateway run` (GATEWAY_UVLOOP), else asyncio's own loop.
    """
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_until_signalled(main))


async def _until_signalled(main: Coroutine[Any, Any, T]) -> T | None:
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    stop_requested = False

    def request_stop() -> None:
        nonlocal stop_requested
        stop_requested = True
        task.cancel()

    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, request_stop)
    try:
        return await task
    except asyncio.CancelledError:
        if stop_requested:
            return None
        raise
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    sys.exit(main())
