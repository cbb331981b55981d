"""The voice line in the running gateway: refused at start with an unknown program, mounted
with its download task when on, absent when off; and a keypress opt-in's confirmation
reaches the caller's phone through the real outbox and SMSC simulator.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from gateway.app import open_gateway
from gateway.config import ConfigError, Settings
from gateway.smpp.simulator import SmscSimulator
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway
from tests.support.voice import ACCOUNT, BASE_URL, sign, voice_settings

CALLER = "+33612345678"


async def test_an_unknown_voice_program_stops_the_start(settings: Settings) -> None:
    with pytest.raises(ConfigError) as refused:
        await open_gateway(voice_settings(settings, voice_program="nope"), migrate=False)
    assert "GATEWAY_VOICE_PROGRAM=nope names no program" in str(refused.value)


async def test_the_running_gateway_answers_the_line_and_texts_the_caller(
        settings: Settings, smsc: SmscSimulator) -> None:
    gw = await running_gateway(gateway_settings(voice_settings(settings), smsc), smsc)
    try:
        assert "voice-recordings" in gw.supervisor.status()
        local = f"http://127.0.0.1:{gw.http_port}/voice"
        async with aiohttp.ClientSession() as http:

            async def post(path: str, **fields: str) -> str:
                form = {"AccountSid": ACCOUNT, "CallSid": "CA-gw", "From": CALLER, **fields}
                async with http.post(local + path, data=form, headers={
                        "X-Twilio-Signature": sign(BASE_URL + path, form)}) as response:
                    assert response.status == 200, await response.text()
                    return await response.text()

            assert "Bienvenue" in await post("/incoming")
            assert "Pour recevoir les SMS" in await post("/menu?round=1&try=1", Digits="2")
            assert "C'est not" in await post("/support?round=1&try=1", Digits="2")
            async with http.get(f"http://127.0.0.1:{gw.http_port}/metrics") as response:
                metrics = await response.text()
        assert "gateway_voice_calls_total 1.0" in metrics
        assert 'gateway_voice_branches_total{branch="sms_opt_in"} 1.0' in metrics
        async with asyncio.timeout(10):  # the outbox was woken: the confirmation goes out
            await smsc.wait_until(lambda: bool(smsc.texts_to(CALLER)))
        [text] = smsc.texts_to(CALLER)
        assert text.startswith("Ensemble Citoyen : bienvenue !")
    finally:
        await stop_gateway(gw)


async def test_with_the_line_off_there_is_no_voice_route(
        settings: Settings, smsc: SmscSimulator) -> None:
    gw = await running_gateway(gateway_settings(settings, smsc), smsc)
    try:
        assert "voice-recordings" not in gw.supervisor.status()
        async with aiohttp.ClientSession() as http, http.post(
                f"http://127.0.0.1:{gw.http_port}/voice/incoming",
                data={"CallSid": "CA-off"}) as response:
            assert response.status == 404
    finally:
        await stop_gateway(gw)
