"""Structured JSON logs, one event per line, with phone numbers masked.

Why a processor rather than discipline at each call site: a single missed
call site would leak a supporter's number into log storage. Every key that
names a phone number is masked here, last four digits kept so support staff
can still correlate a complaint with a log line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PHONE_KEYS = frozenset(
    {"msisdn", "source_addr", "destination_addr", "phone", "number", "to", "sender"}
)
SECRET_KEYS = frozenset({"password", "secret", "token", "api_key", "card", "authorization"})


def mask_msisdn(value: str) -> str:
    """'+15551234567' -> '********4567'; short values are masked entirely."""
    digits = len(value)
    if digits <= 4:
        return "*" * digits
    return "*" * (digits - 4) + value[-4:]


def mask_email(value: str) -> str:
    """'ana.lopez@example.org' -> 'a***@example.org': the domain and the first letter."""
    local, at, domain = value.rpartition("@")
    if not at:
        return "*" * len(value)
    return f"{local[:1]}***@{domain}"


def _mask_sensitive(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key in PHONE_KEYS and isinstance(event[key], str):
            event[key] = mask_msisdn(event[key])
        elif key in SECRET_KEYS:
            event[key] = "<hidden>"
    return event


def configure_logging(level: str = "info", *, stream: Any = None) -> None:
    """Idempotent: safe to call from the CLI, tests and the benchmark."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_sensitive,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
