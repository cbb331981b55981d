"""`gateway user add EMAIL --role ROLE`: staff accounts from a terminal (the first admin).

`gateway user password EMAIL` sets a new password for a staff account (an
admin who lost theirs cannot use the API to reset it); it ends the account's
sessions and revokes its API tokens, like a change made in the API, and is
audit-logged.

Why the CLI goes to the database itself: the first admin must exist before
anyone can log in to create users through the API. It applies the same
rules as the API (gateway/services/accounts.py) and is audited as `cli`. The password is
read from the terminal without echo (twice), or from standard input with
--password-stdin for scripts (never from the command line, where `ps` and
shell history would keep it). --token prints an API token, once; it expires
after GATEWAY_WEB_TOKEN_DAYS like one made in the API, and holds the scopes
given with --scopes (each one the role may hold), else all the role allows.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime

import asyncpg

from gateway.cli_errors import UsageError
from gateway.config import Settings
from gateway.services import accounts
from gateway.services.errors import ServiceError
from gateway.store.db import create_pool
from gateway.web.access import ROLES, SCOPES, scopes_for_role
from gateway.web.credentials import WeakPassword, check_password_rules, hash_password, new_api_token

EXIT_OK = 0
EXIT_FAILED = 1


class CommandFailed(Exception):
    """Said to the operator as one line, exit 1 (a bad argument is a `UsageError`, exit 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="create a staff account")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--themes", nargs="*", default=[], help="an expert's themes")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    secret.add_argument("--no-password", action="store_true",
                        help="no password login (API tokens only)")
    add.add_argument("--token", action="store_true", help="also make an API token and print it")
    add.add_argument("--token-name", default="cli", help="what the token is for (stored)")
    add.add_argument("--scopes", nargs="+", choices=SCOPES, metavar="SCOPE",
                     help="what the token may do (default: all the role allows): "
                          + ", ".join(SCOPES))
    reset = sub.add_parser("password", help="set a new password for a staff account")
    reset.add_argument("email")
    reset.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input")


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.user_command == "password":
            new = _password(args)
            assert new is not None  # only `add` has --no-password
            return asyncio.run(_reset(settings, _email(args.email), new))
        password = _password(args)
        email = _email(args.email)
        try:
            themes = accounts.themes_fit(args.role, list(args.themes))
        except ServiceError as err:
            raise UsageError("--themes", err.message) from None
        if args.scopes and not args.token:
            raise UsageError("--scopes", "scopes are for the token: add --token")
        beyond = sorted(set(args.scopes or ()) - scopes_for_role(args.role))
        if beyond:
            raise UsageError("--scopes", f"a {args.role} may not hold {', '.join(beyond)} "
                             f"(may hold: {', '.join(sorted(scopes_for_role(args.role)))})")
        return asyncio.run(_add(settings, args, email, themes, password))
    except (CommandFailed, ValueError) as err:
        print(f"gateway user: {err}", file=sys.stderr)
        return EXIT_FAILED


def _email(raw: str) -> str:
    try:
        return accounts.check_email(raw)
    except ValueError as err:
        raise UsageError("EMAIL", str(err)) from None


def _password(args: argparse.Namespace) -> str | None:
    if getattr(args, "no_password", False):
        return None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise UsageError("--password-stdin",
                             "no terminal to ask for the password; use --password-stdin")
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("password", "the passwords differ")
    try:
        check_password_rules(password)
    except WeakPassword as err:
        raise UsageError("password", str(err)) from None
    return password


async def _add(settings: Settings, args: argparse.Namespace, email: str, themes: list[str],
               password: str | None) -> int:
    password_hash = hash_password(password) if password is not None else None
    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            try:
                user = await accounts.create_user(conn, accounts.CLI, email=email,
                                                  role=args.role, themes=themes,
                                                  password_hash=password_hash)
            except ServiceError as err:
                raise CommandFailed(err.message) from None
            except asyncpg.UndefinedTableError:
                raise CommandFailed("the database has no users table; run `gateway migrate`"
                                    ) from None
            token = None
            if args.token:
                token = new_api_token()
                made = await accounts.issue_token(
                    conn, accounts.CLI, user.id,
                    accounts.TokenRequest(name=args.token_name, prefix=token.prefix,
                                          secret_hash=token.secret_hash,
                                          scopes=tuple(args.scopes) if args.scopes else None),
                    via="cli", most_days=settings.web_token_days, now=datetime.now(UTC))
    finally:
        await pool.close()
    print(f"user {user.id}: {email} ({args.role})")
    if token is not None:
        print(f"API token (expires {made.expires_at:%Y-%m-%d %H:%M %Z}; shown once, "
              f"store it now): {token.token}")
    return EXIT_OK


async def _reset(settings: Settings, email: str, password: str) -> int:
    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            try:
                user, revoked = await accounts.reset_password(conn, accounts.CLI, email,
                                                              hash_password(password))
            except ServiceError as err:
                raise CommandFailed(f"{email} has no account") from err
    finally:
        await pool.close()
    print(f"user {user.id}: {email}: new password set, sessions ended, "
          f"{revoked} API token(s) revoked")
    return EXIT_OK
