"""What every `gateway` subcommand does on bad input: one line naming the argument, an exit code.

Exit codes, the same for every subcommand:
  0  done;
  1  the command was understood but could not be done: the database is
     unreachable, Stripe is down, what it names does not exist or is in the
     wrong state (a broadcast that cannot be paused), the data refuses it (rows
     refused, a settlement file whose header lacks the mapped columns, a
     frequency limit, a summary that does not add up, a keywords file with
     problems for `gateway keywords check`);
  2  fix the command line or the settings and run it again: an unknown
     option, a bad or missing argument (a date, a time zone, a program, a
     phone number, an e-mail address, a file that cannot be read or written),
     or a bad configuration.

Why a parser subclass: argparse prints its usage block before the error,
which buries the one line that says what is wrong; here the error is that
line, with a pointer to --help.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A bad argument: said as one line naming it; exit 2."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        super().__init__(f"argument {argument}: {problem}")


class CommandFailed(Exception):
    """The command could not be done (state, data, a service down): one line; exit 1."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr, exit 2 (subparsers inherit it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def port(text: str) -> int:
    """argparse type: a TCP port, 0 (any free one) to 65535."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


port.__name__ = "port (0-65535)"  # argparse: "invalid port (0-65535) value: '70000'"


def port_or_off(text: str) -> int:
    """argparse type: a TCP port, or a negative number for "none"."""
    value = int(text)
    return value if value < 0 else port(text)


port_or_off.__name__ = "port (0-65535, or -1 for none)"


def say(command: str, err: BaseException | str) -> None:
    """`gateway report: argument --timezone: unknown time zone 'Eastern'` on stderr."""
    text = " ".join(str(err).split("\n")) if isinstance(err, BaseException) else err
    print(f"gateway {command}: {text}", file=sys.stderr)
