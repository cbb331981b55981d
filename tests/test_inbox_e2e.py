"""The expert inbox end to end: a question over SMPP, claimed and answered over the running
gateway's own web API, and the answer delivered to the simulator.

Why the gateway's own HTTP server rather than a test app: it is the only
place where the web context carries the rules in force and the outbox's
wake, so this checks the wiring in app.py as well as the inbox.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from gateway.app import Gateway
from gateway.smpp.simulator import SmscSimulator
from gateway.store import users as user_store
from gateway.web.credentials import hash_password, new_api_token
from tests.support.e2e import wait_for
from tests.support.questions import text_fr
from tests.support.webapi import PASSWORD

QUESTION = "Les urgences de l'hôpital ferment la nuit, pourquoi ?"


async def expert_token(pool: asyncpg.Pool, email: str, themes: tuple[str, ...]) -> str:
    made = new_api_token()
    async with pool.acquire() as conn:
        user = await user_store.insert_user(conn, email=email, role="expert", themes=themes,
                                            password_hash=hash_password(PASSWORD))
        await user_store.insert_token(conn, user_id=user.id, name="e2e", prefix=made.prefix,
                                      secret_hash=made.secret_hash,
                                      expires_at=datetime.now(UTC) + timedelta(days=30))
    return made.token


async def call(session: aiohttp.ClientSession, method: str, url: str, token: str,
               body: dict[str, Any] | None = None) -> tuple[int, Any]:
    async with session.request(method, url, json=body,
                               headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


async def test_a_question_over_smpp_is_claimed_and_answered_in_the_web_api_and_delivered(
    gateway: Gateway, smsc: SmscSimulator,
) -> None:
    msisdn = "+33612340077"
    [ack] = await text_fr(smsc, msisdn, QUESTION, expect=1)
    assert "(Santé)" in ack
    health = await expert_token(gateway.pool, "sante@example.org", ("sante",))
    other = await expert_token(gateway.pool, "edu@example.org", ("education",))
    api = f"http://127.0.0.1:{gateway.http_port}/api/v1/inbox"

    async with aiohttp.ClientSession() as session:
        status, body = await call(session, "GET", f"{api}/queues", health)
        assert status == 200
        [queue] = body["queues"]
        [question] = queue["questions"]
        assert (queue["theme"], question["body"], question["status"]) == (
            "sante", QUESTION, "open")
        status, body = await call(session, "GET", f"{api}/queues", other)
        assert [q["questions"] for q in body["queues"]] == [[]]  # routed by theme

        url = f"{api}/questions/{question['id']}"
        status, refused = await call(session, "POST", f"{url}/claim", other)
        assert (status, refused["error"]["code"]) == (403, "theme_forbidden")
        assert (await call(session, "POST", f"{url}/claim", health))[0] == 200
        status, done = await call(session, "POST", f"{url}/answer", health,
                                  {"text": "Faute de médecins. Une garde de nuit rouvre en juin."})
        assert status == 200, done

        answer = ("Ensemble Citoyen : Faute de médecins. Une garde de nuit rouvre en juin. "
                  "STOP au 38200")
        async with asyncio.timeout(10):
            await smsc.wait_until(lambda: answer in smsc.texts_to(msisdn))

        async def delivered() -> bool:
            async with gateway.pool.acquire() as conn:
                state = await conn.fetchval("SELECT status FROM outbound WHERE id = $1",
                                            done["outbound_id"])
            return bool(state == "delivered")

        await wait_for(delivered)
        status, detail = await call(session, "GET", url, health)
    assert detail["question"]["status"] == "answered"
    answered = [t for t in detail["timeline"] if t["body"] == "question_answered"]
    assert answered[0]["data"]["answered_by"] == "sante@example.org"
    assert (detail["timeline"][-1]["kind"], detail["timeline"][-1]["body"],
            detail["timeline"][-1]["status"]) == ("mt", answer, "delivered")
