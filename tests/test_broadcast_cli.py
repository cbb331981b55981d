"""`gateway broadcast ...` as an organizer types it, against a real database (subprocesses:
`asyncio.run` inside the test process would fight pytest-asyncio's loop)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import asyncpg

from gateway.broadcast.commands import progress_line
from tests.support.broadcasts import seed
from tests.support.cli import broadcast_cli as gateway


async def test_preview_create_control_and_progress(db_url: str, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    text = "Hi {first_name|friend}, rally Saturday!"
    shown = await gateway(db_url, "create", "--program", "rise", "--where", "state = NY",
                          "--text", text, "--preview")
    assert shown.returncode == 0, shown.stderr
    assert "recipients: 2" in shown.stdout
    assert "GSM-7; 1 segment(s) per message" in shown.stdout
    assert "+12125550001: Hi Ana, rally Saturday!" in shown.stdout
    assert "nothing was created" in shown.stdout
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM broadcasts") == 0

    made = await gateway(db_url, "create", "--program", "rise", "--where", "state = NY",
                         "--text", text + " 🙂")
    assert made.returncode == 0, made.stderr
    assert "UCS-2" in made.stdout and "warning: the text needs UCS-2" in made.stdout
    found = re.search(r"broadcast (\d+): draft", made.stdout)
    assert found is not None, made.stdout
    broadcast_id = found.group(1)

    refused = await gateway(db_url, "pause", broadcast_id)
    assert refused.returncode == 1
    assert f"cannot pause broadcast {broadcast_id}: it is draft" in refused.stderr
    for action, status in (("start", "running"), ("pause", "paused"), ("resume", "running")):
        done = await gateway(db_url, action, broadcast_id)
        assert (done.returncode, done.stdout.strip()) == (0, f"broadcast {broadcast_id}: {status}")
    cancelled = await gateway(db_url, "cancel", broadcast_id)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    progress = await gateway(db_url, "progress", broadcast_id, "--follow")
    assert progress.returncode == 0, progress.stderr  # --follow returns once it is final
    assert "cancelled" in progress.stdout and "queued 0" in progress.stdout

    missing = await gateway(db_url, "start", "4242")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    bad = await gateway(db_url, "create", "--program", "rise", "--where", "state = = NY",
                        "--text", "x")
    assert bad.returncode == 2 and bad.stderr.startswith("gateway broadcast: argument --where:")
    naive = await gateway(db_url, "create", "--program", "rise", "--text", "x",
                          "--at", "2030-01-01T10:00")
    assert naive.returncode == 2 and "time zone" in naive.stderr


async def test_a_scheduled_create_says_when(db_url: str) -> None:
    made = await gateway(db_url, "create", "--program", "rise", "--text", "x",
                         "--at", "2030-01-01T10:00:00+00:00")
    assert made.returncode == 0, made.stderr
    assert "scheduled for 2030-01-01 10:00 UTC, 2030-01-01T10:00:00+00:00" in made.stdout


def test_progress_line_counts_and_bar() -> None:
    line = progress_line({
        "status": "running", "recipients": 10, "materialized_at": datetime.now(UTC),
        "queued": 3, "deferred": 2, "sending": 1, "sent": 4, "delivered": 3, "failed": 0,
        "suppressed": 0, "cancelled": 0,
    })
    assert line.startswith("[" + "#" * 12 + "-" * 18 + "]  40% running  ")
    assert "queued 3 deferred 2 sending 1 sent 4 delivered 3 failed 0 suppressed 0" in line
    assert line.endswith("of 10")


async def test_a_program_on_another_code_defaults_to_its_own(
    db_url: str, pool: asyncpg.Pool,
) -> None:
    """ensemble is on 38200, not the configured 12345: a preview there would find nobody."""
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO contacts (msisdn, shortcode, state) VALUES ($1, '38200', $2::jsonb)",
            "+33612345678", '{"v": 1, "subs": {"ensemble": {"status": "subscribed"}}}')
    shown = await gateway(db_url, "create", "--program", "ensemble", "--text",
                          "Salut. STOP au 38200", "--preview")
    assert shown.returncode == 0, shown.stderr
    assert "recipients: 1" in shown.stdout
