"""Log lines: phone numbers masked to their last four digits, secrets hidden, levels honoured."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from gateway.logs import configure_logging, get_logger, mask_msisdn


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    yield stream
    structlog.reset_defaults()


def events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_msisdn_is_masked_except_last_four(log_lines: io.StringIO) -> None:
    get_logger("test").info("mo_received", msisdn="+15551234567", source_addr="+447700900123")
    (event,) = events(log_lines)
    assert event["msisdn"] == "********4567"  # same length as "+15551234567"
    assert event["source_addr"] == "*********0123"
    assert "5551234" not in log_lines.getvalue()
    assert "7700900" not in log_lines.getvalue()
    assert event["event"] == "mo_received" and event["level"] == "info"


def test_secrets_are_hidden(log_lines: io.StringIO) -> None:
    get_logger("test").info("bound", password="pw-must-not-echo", system_id="gateway")
    (event,) = events(log_lines)
    assert event["password"] == "<hidden>"
    assert event["system_id"] == "gateway"
    assert "pw-must-not-echo" not in log_lines.getvalue()


def test_level_filters_lower_events() -> None:
    stream = io.StringIO()
    configure_logging("warning", stream=stream)
    try:
        log = get_logger("test")
        log.info("quiet")
        log.warning("loud")
    finally:
        structlog.reset_defaults()
    assert [event["event"] for event in events(stream)] == ["loud"]


@given(st.text(min_size=5, max_size=20))
def test_mask_keeps_length_and_last_four(value: str) -> None:
    masked = mask_msisdn(value)
    assert len(masked) == len(value)
    assert masked[-4:] == value[-4:]
    assert set(masked[:-4]) == {"*"}


@given(st.text(max_size=4))
def test_short_values_are_masked_entirely(value: str) -> None:
    assert mask_msisdn(value) == "*" * len(value)
