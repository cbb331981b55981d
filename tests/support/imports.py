"""Contact files for the import tests and the benchmark: generated, with every kind of row.

`contact_file(n)` makes a CSV of `n` data rows in which about one row in
ten repeats an earlier number, one in twenty has an unusable number, one in
twenty is an opt-out, one in eight lacks its consent provenance; the rest
subscribe. The same seed gives the same file.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from gateway.engine import load_rules
from gateway.services import accounts
from gateway.services.imports import service
from gateway.services.imports.runner import ImportRunner, RunnerConfig
from gateway.store import users as user_store

ORGANIZER = "organizer@example.org"
ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "keywords.yaml")
HEADERS = ("Mobile Phone", "First Name", "Last Name", "Email", "Zip", "Source", "Opt-in Date",
           "Campaign", "Unsubscribed")
MAPPING = {"phone": "Mobile Phone", "first_name": "First Name", "last_name": "Last Name",
           "email": "Email", "zip": "Zip", "consent_source": "Source",
           "consent_date": "Opt-in Date", "consent_wording": "Campaign",
           "opted_out": "Unsubscribed"}


@dataclass(frozen=True, slots=True)
class Staff:
    """Who uploads: what services.actor.Identity asks for."""

    user_id: int
    email: str


async def organizer(conn: asyncpg.Connection) -> Staff:
    """The organizer who uploads (made on first use)."""
    found = await user_store.get_user_by_email(conn, ORGANIZER)
    if found is None:
        found = await accounts.create_user(conn, accounts.CLI, email=ORGANIZER,
                                           role="organizer", themes=[], password_hash=None)
    return Staff(found.id, found.email)


def number(i: int) -> str:
    """A US mobile number in national form, distinct for each i < 10**6."""
    return f"(212) 5{i // 10000 % 100:02d}-{i % 10000:04d}"


def contact_file(n: int, *, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for i in range(n):
        roll = rng.random()
        phone = number(i)
        if roll < 0.10 and i > 0:
            phone = number(rng.randrange(i))  # a duplicate of an earlier row's number
        elif roll < 0.15:
            phone = rng.choice(["12", "not a phone", "+1 212 555", ""])
        optout = "yes" if 0.15 <= roll < 0.20 else ""
        consent = not (0.20 <= roll < 0.325)
        writer.writerow([
            phone, f"First{i}", f"Last{i}", f"p{i}@example.org", "10001",
            "web form" if consent else "", "2025-03-01" if consent else "",
            "Spring petition" if consent else "", optout])
    return out.getvalue().encode()


async def uploaded(conn: asyncpg.Connection, content: bytes, *, filename: str = "list.csv",
                   program: str = "rise", phase: str = "dry_run",
                   mapping: dict[str, str] | None = None,
                   tags: list[str] | None = None) -> int:
    staff = await organizer(conn)
    made = await service.upload(conn, staff, "test", filename=filename, content=content,
                                program=program, country="US", rules=RULES,
                                max_bytes=200_000_000, now=datetime.now(UTC))
    await service.queue(conn, staff, "test", made["id"], phase=phase,
                        mapping=mapping or MAPPING, tags=tags)
    return int(made["id"])


def runner(pool: asyncpg.Pool, *, owner: str = "gw-a", chunk_rows: int = 5_000,
           **options: Any) -> ImportRunner:
    return ImportRunner(pool, RunnerConfig(owner=owner, chunk_rows=chunk_rows,
                                           lease_seconds=60), lambda: RULES, **options)
