"""Shared fixtures: one throwaway PostgreSQL per test session, a fresh database per test.

Why a template database: the migrations run once per session, and each test
gets `CREATE DATABASE ... TEMPLATE` (a file copy, milliseconds) so no test
sees another's rows and none pays for re-running the schema.

Set TEST_DATABASE_URL to use an existing server instead of starting one; the
fixtures then create and drop uniquely named databases on it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gateway.app import Gateway
from gateway.billing.stripe_client import StripeCards
from gateway.config import Settings, load_settings
from gateway.devdb import LocalPostgres
from gateway.smpp.simulator import SmscSimulator
from gateway.store.db import create_pool
from gateway.store.migrate import apply_migrations
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway
from tests.support.fake_stripe import FakeStripe
from tests.support.pages_site import start_site
from tests.support.stripe_cards import running_fake_stripe, stripe_config
from tests.support.webapi import WebApi, start_web_api

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "migrations"


def database_url(server_url: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the test server's `gateway` database (do not write test rows here)."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    cluster = LocalPostgres(tmp_path_factory.mktemp("pg") / "data", throwaway=True)
    url = cluster.start()
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
async def pg_admin(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection for CREATE/DROP DATABASE, reused by every test."""
    conn = await asyncpg.connect(pg_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def template_database(pg_url: str, pg_admin: asyncpg.Connection) -> AsyncIterator[str]:
    """A database with the project's migrations applied, cloned by `db_url`."""
    name = f"gateway_template_{uuid.uuid4().hex[:8]}"
    await pg_admin.execute(f'CREATE DATABASE "{name}"')
    try:
        if MIGRATIONS.is_dir():
            conn = await asyncpg.connect(database_url(pg_url, name))
            try:
                await apply_migrations(conn, MIGRATIONS)
            finally:
                await conn.close()
        yield name
    finally:
        await pg_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _fresh_database(
    pg_admin: asyncpg.Connection, pg_url: str, template: str
) -> AsyncIterator[str]:
    name = f"gateway_test_{uuid.uuid4().hex[:12]}"
    # FILE_COPY (PostgreSQL 15+) beats the default WAL_LOG about 4x for a small template.
    strategy = " STRATEGY FILE_COPY" if pg_admin.get_server_version().major >= 15 else ""
    await pg_admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
    try:
        yield database_url(pg_url, name)
    finally:
        # FORCE: a test that leaked a connection must not break the next one.
        await pg_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db_url(
    pg_url: str, pg_admin: asyncpg.Connection, template_database: str
) -> AsyncIterator[str]:
    """A database of this test's own, with the project's schema and no rows."""
    async for url in _fresh_database(pg_admin, pg_url, template_database):
        yield url


@pytest.fixture
async def empty_db_url(pg_url: str, pg_admin: asyncpg.Connection) -> AsyncIterator[str]:
    """A database of this test's own with no schema at all (for migration tests)."""
    async for url in _fresh_database(pg_admin, pg_url, "template1"):
        yield url


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_url, min_size=1, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings for this test's database; HTTP on a free port; everything else default."""
    return load_settings(
        {
            "DATABASE_URL": db_url,
            "GATEWAY_HTTP_PORT": "0",
            "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"),
            # a cut-off send waits this long for its receipt (120 s in production)
            "GATEWAY_UNSURE_SEND_HOLD": "1.5",
        }
    )


async def _simulator(**options: Any) -> AsyncIterator[SmscSimulator]:
    sim = SmscSimulator(credentials={"gateway": "secret"}, receipt_delay=0.05, **options)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    """Our SMSC simulator on a free port, receipts after 50 ms."""
    async for sim in _simulator():
        yield sim


@pytest.fixture
async def patient_smsc() -> AsyncIterator[SmscSimulator]:
    """A simulator that redelivers an unanswered MO after 5 s: for tests that kill the gateway."""
    async for sim in _simulator(resp_timeout=5.0):
        yield sim


@pytest.fixture
async def gateway(settings: Settings, smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    """A gateway bound to `smsc`, on this test's database."""
    gw = await running_gateway(gateway_settings(settings, smsc), smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


@pytest.fixture
async def web(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    """The JSON API on aiohttp's test server, on this test's database (tests/support/webapi.py)."""
    api = await start_web_api(pool, settings)
    try:
        yield api
    finally:
        await api.client.close()


@pytest.fixture
async def site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    """The API and the pages together (tests/support/pages_site.py)."""
    web = await start_site(pool, settings)
    try:
        yield web
    finally:
        await web.client.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    """The local Stripe the real `stripe` library talks to (tests/support/fake_stripe.py)."""
    async with running_fake_stripe() as stripe:
        yield stripe


@pytest.fixture
async def cards(fake: FakeStripe) -> AsyncIterator[StripeCards]:
    """Our Stripe client pointed at `fake`."""
    async with StripeCards(stripe_config(fake)) as stripe:
        yield stripe


@pytest.fixture
async def phone_smsc() -> AsyncIterator[SmscSimulator]:
    """The simulator with its phone port, as `make demo` runs it."""
    async for sim in _simulator(phone_port=0):
        yield sim


@pytest.fixture
async def demo_gateway(settings: Settings, phone_smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    """A gateway as `make demo` runs it: the phone page on, cookies over plain http."""
    assert phone_smsc.phone is not None
    gw = await running_gateway(gateway_settings(
        settings, phone_smsc, web_phone_simulator=phone_smsc.phone.port,
        web_cookie_secure=False), phone_smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)
