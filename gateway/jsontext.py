"""JSON text for the database's jsonb columns on the MO path, built with orjson.

Why orjson: a contact's state is read and written, and its timeline events
written, as JSON for every MO, and the standard library's encoder was a
measurable share of the gateway's CPU per MO (interleaved runs of
bench/mo_roundtrip.py, docs/operations.md). orjson (a Rust extension) builds
the same documents several times faster.

The text keeps what `json.dumps(value, separators=(",", ":"), default=str)`
gave where it matters to a reader of the column: datetimes and dataclasses
still go through `default` (str(), as before, not orjson's own forms),
non-string keys become strings. It differs only in bytes jsonb does not keep:
non-ASCII letters are written as UTF-8 rather than as \\u escapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | \
    orjson.OPT_NON_STR_KEYS


def dumps(value: Any, *, default: Callable[[Any], Any] | None = str) -> str:
    """Compact JSON text; `default` turns what JSON cannot hold into something it can."""
    return orjson.dumps(value, default=default, option=_OPTIONS).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)
