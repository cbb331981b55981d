"""What the finance commands share: days from the command line, output to a file or stdout."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1


def day(text: str) -> date:
    """argparse type: an ISO day (2024-09-30)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a day; use YYYY-MM-DD") from None


day.__name__ = "day"  # argparse names the type in its error: "invalid day value"


def write(data: bytes | str, path: Path | None) -> None:
    """To `path`, or to stdout when none (bytes as they are: CSV keeps its CRLF)."""
    raw = data.encode() if isinstance(data, str) else data
    if path is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
    else:
        path.write_bytes(raw)
