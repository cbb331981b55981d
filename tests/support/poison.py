"""A number whose consent-ledger row fails to insert: the last step of an MO lane's one
write statement, so a batch holding that number fails half-way (tests of its rollback)."""

from __future__ import annotations

import asyncpg


async def poison_ledger_for(conn: asyncpg.Connection | asyncpg.Pool, msisdn: str) -> None:
    """From now on, inserting a `consent_events` row for `msisdn` raises 'poisoned row'."""
    await conn.execute(f"""
CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.msisdn = '{msisdn}' THEN RAISE EXCEPTION 'poisoned row'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_poison BEFORE INSERT ON consent_events
    FOR EACH ROW EXECUTE FUNCTION test_poison();
""")
