"""Short codes keywords.yaml does not know: refused at start, and answered from the texted code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.app import open_gateway
from gateway.config import ConfigError, Settings
from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import SmscSimulator
from tests.support.e2e import (
    gateway_settings,
    keywords_file,
    outbox_drained,
    running_gateway,
    stop_gateway,
)

UNKNOWN = "55555"
ANSWER = "This number is not in service. Nothing will be sent to you from it."


async def test_a_gateway_shortcode_no_program_names_refuses_to_start(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_SHORTCODE=99999 names no program"):
        await open_gateway(settings.model_copy(update={"shortcode": "99999"}), migrate=False)


async def test_an_mo_to_an_unknown_code_is_kept_counted_and_answered_from_it_once_a_day(
    settings: Settings, smsc: SmscSimulator, tmp_path: Path
) -> None:
    def answer(doc: dict[str, Any]) -> None:
        doc["defaults"]["unknown_shortcode_reply"] = ANSWER

    path = keywords_file(tmp_path, answer)
    gw = await running_gateway(gateway_settings(settings, smsc, keywords=path), smsc)
    try:
        number, other = "+15555550301", "+15555550302"
        # the other number was answered from that code yesterday: a day on, it is again
        await gw.pool.execute(
            "INSERT INTO outbound (msisdn, shortcode, body, status, created_at) VALUES"
            " ($1, $2, $3, 'delivered', now() - interval '25 hours')", other, UNKNOWN, ANSWER)
        for text in ("STOP", "JOIN", "JOIN"):
            assert await smsc.inject_mo(number, UNKNOWN, text) == CommandStatus.ESME_ROK
        assert await smsc.inject_mo(other, UNKNOWN, "HI") == CommandStatus.ESME_ROK
        # every MO was acknowledged after its COMMIT, replies included: once the
        # outbox is empty, nothing else follows (a borrowed program would answer more,
        # and a number texting a dead code again the same day is answered once)
        await outbox_drained(gw.pool)
        assert sorted((r.destination.lstrip("+"), r.text) for r in smsc.submitted) == [
            (number[1:], ANSWER), (other[1:], ANSWER)]
        async with gw.pool.acquire() as conn:
            events = await conn.fetch(
                "SELECT shortcode, name FROM contact_events WHERE msisdn = $1", number)
            contacts = await conn.fetchval("SELECT count(*) FROM contacts")
            consent = await conn.fetchval("SELECT count(*) FROM consent_events")
        assert [(e["shortcode"], e["name"]) for e in events] == [(UNKNOWN, "unknown_shortcode")] * 3
        assert contacts == 0 and consent == 0  # no program's state or consent was touched
        assert gw.metrics.mo_unknown_shortcode._value.get() == 4
    finally:
        await stop_gateway(gw)


async def test_a_reload_that_drops_the_gateway_shortcode_keeps_the_rules(
    settings: Settings, smsc: SmscSimulator, tmp_path: Path
) -> None:
    path = keywords_file(tmp_path, lambda doc: None)
    gw = await running_gateway(gateway_settings(settings, smsc, keywords=path), smsc)
    try:
        before = gw.rules.current
        keywords_file(tmp_path, lambda doc: doc["programs"]["rise"].update(shortcodes=["12399"]))
        assert gw.reload_rules() is False
        assert gw.rules.current is before
    finally:
        await stop_gateway(gw)
