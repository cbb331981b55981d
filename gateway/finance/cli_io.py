"""What the finance commands share: days, periods and time zones from the command line,
output to a file or stdout; a bad one is a `UsageError` naming the argument (exit 2)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.cli_errors import EXIT_FAILED, EXIT_OK, UsageError

__all__ = ["EXIT_FAILED", "EXIT_OK", "day", "period", "time_zone", "write"]


def day(text: str) -> date:
    """argparse type: an ISO day (2024-09-30)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a day; use YYYY-MM-DD") from None


day.__name__ = "day"  # argparse names the type in its error: "invalid day value"


def period(date_from: date, date_to: date | None) -> None:
    """--from and --to in order (--to is included, so the same day is one day)."""
    if date_to is not None and date_to < date_from:
        raise UsageError("--to", f"{date_to} is before --from {date_from}")


def time_zone(argument: str, name: str) -> str:
    """An IANA time zone name, checked: `Eastern` is an error, `America/New_York` is not."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(argument, f"unknown time zone {name!r}; use an IANA name like "
                                   "America/New_York, Europe/Paris or UTC") from None
    return name


def write(data: bytes | str, path: Path | None, *, argument: str = "--output") -> None:
    """To `path`, or to stdout when none (bytes as they are: CSV keeps its CRLF)."""
    raw = data.encode() if isinstance(data, str) else data
    if path is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
        return
    try:
        path.write_bytes(raw)
    except OSError as err:
        raise UsageError(argument, f"cannot write {path}: {err.strerror}") from None
