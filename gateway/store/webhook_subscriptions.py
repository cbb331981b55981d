"""Webhook subscriptions (migration 400): the one writer of `webhook_subscriptions`.

Why the failure run lives on the subscription, not on a delivery: a receiver
that is down fails every delivery at once, and "disable after sustained
failure" is about the receiver. `record_failure` counts the run and, in the
same statement, disables the subscription when the run is long enough and
old enough; only the one statement that flips `enabled` reports it, so two
gateways never notify admins twice. A success ends the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.store import webhook_events
from gateway.store.db import affected

# `disabled_reason` starts with one of these: who turned it off (the admin page reads them).
DISABLED_BY_GATEWAY: Final = "disabled after failed deliveries: "  # then the last error
DISABLED_BY_HAND: Final = "turned off by "  # then the admin's e-mail

_COLUMNS = """id, url, description, event_types, enabled, created_at, created_by, disabled_at,
    disabled_reason, consecutive_failures, failing_since, last_success_at"""

INSERT = f"""
INSERT INTO webhook_subscriptions (url, description, event_types, secret, created_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING {_COLUMNS}
"""

LIST = f"SELECT {_COLUMNS} FROM webhook_subscriptions ORDER BY id"
GET = f"SELECT {_COLUMNS} FROM webhook_subscriptions WHERE id = $1"

# Enabling starts a fresh failure run; disabling by hand says who did it.
SET_ENABLED = f"""
UPDATE webhook_subscriptions
SET enabled = $2::boolean,
    disabled_at = CASE WHEN $2::boolean THEN NULL ELSE $3::timestamptz END,
    disabled_reason = CASE WHEN $2::boolean THEN NULL ELSE $4::text END,
    consecutive_failures = CASE WHEN $2::boolean THEN 0 ELSE consecutive_failures END,
    failing_since = CASE WHEN $2::boolean THEN NULL ELSE failing_since END
WHERE id = $1
RETURNING {_COLUMNS}
"""

DELETE = "DELETE FROM webhook_subscriptions WHERE id = $1"

UPDATE_SETTINGS = f"""
UPDATE webhook_subscriptions SET url = $2, description = $3, event_types = $4
WHERE id = $1
RETURNING {_COLUMNS}
"""

# The old secret keeps signing beside the new one until $3 (a second v1=).
ROTATE_SECRET = f"""
UPDATE webhook_subscriptions
SET previous_secret = secret, previous_secret_until = $3, secret = $2
WHERE id = $1
RETURNING {_COLUMNS}
"""

OFFER_SECRET = """
UPDATE webhook_subscriptions SET secret_reveal_to = $2, secret_reveal_until = $3
WHERE id = $1
"""

# Shown once: the same statement that reads it takes the offer away.
TAKE_SECRET = """
UPDATE webhook_subscriptions SET secret_reveal_to = NULL, secret_reveal_until = NULL
WHERE id = $1 AND secret_reveal_to = $2 AND secret_reveal_until > $3
RETURNING secret
"""

RECORD_SUCCESS = """
UPDATE webhook_subscriptions
SET consecutive_failures = 0, failing_since = NULL, last_success_at = $2
WHERE id = $1
"""

# $3 failures in a run that began at least $4 seconds before $2: disabled, here.
RECORD_FAILURE = """
WITH run AS (
    SELECT id, enabled AS was_enabled, consecutive_failures + 1 AS failures,
           coalesce(failing_since, $2) AS since
    FROM webhook_subscriptions WHERE id = $1 FOR UPDATE
), verdict AS (
    SELECT *, was_enabled AND failures >= $3
              AND $2 - since >= make_interval(secs => $4) AS disable
    FROM run
)
UPDATE webhook_subscriptions s
SET consecutive_failures = v.failures, failing_since = v.since,
    enabled = s.enabled AND NOT v.disable,
    disabled_at = CASE WHEN v.disable THEN $2 ELSE s.disabled_at END,
    disabled_reason = CASE WHEN v.disable THEN $5 ELSE s.disabled_reason END
FROM verdict v
WHERE s.id = v.id
RETURNING v.disable AS just_disabled, s.consecutive_failures, s.failing_since
"""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription as the API shows it: never its secret."""

    id: int
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    created_at: datetime
    created_by: int | None
    disabled_at: datetime | None
    disabled_reason: str | None
    consecutive_failures: int
    failing_since: datetime | None
    last_success_at: datetime | None


@dataclass(frozen=True, slots=True)
class FailureRun:
    """After a failed attempt: the run so far, and whether this attempt disabled it."""

    failures: int
    since: datetime
    just_disabled: bool


def _subscription(row: asyncpg.Record) -> Subscription:
    return Subscription(
        id=row["id"], url=row["url"], description=row["description"],
        event_types=tuple(row["event_types"]), enabled=row["enabled"],
        created_at=row["created_at"], created_by=row["created_by"],
        disabled_at=row["disabled_at"], disabled_reason=row["disabled_reason"],
        consecutive_failures=row["consecutive_failures"], failing_since=row["failing_since"],
        last_success_at=row["last_success_at"])


async def insert(conn: asyncpg.Connection, *, url: str, description: str,
                 event_types: tuple[str, ...], secret: str,
                 created_by: int | None) -> Subscription:
    """`created_at` is the database's: events emitted before it are not for it."""
    row = await conn.fetchrow(INSERT, url, description, list(event_types), secret,
                              created_by)
    assert row is not None
    webhook_events.subscriptions_changed(conn)  # this gateway: the database decides, now
    return _subscription(row)


async def list_all(conn: asyncpg.Connection) -> list[Subscription]:
    return [_subscription(r) for r in await conn.fetch(LIST)]


async def get(conn: asyncpg.Connection, subscription_id: int) -> Subscription | None:
    row = await conn.fetchrow(GET, subscription_id)
    return None if row is None else _subscription(row)


async def set_enabled(conn: asyncpg.Connection, subscription_id: int, *, enabled: bool,
                      now: datetime, reason: str | None = None) -> Subscription | None:
    row = await conn.fetchrow(SET_ENABLED, subscription_id, enabled, now, reason)
    webhook_events.subscriptions_changed(conn)
    return None if row is None else _subscription(row)


async def delete(conn: asyncpg.Connection, subscription_id: int) -> bool:
    """Its deliveries go with it (ON DELETE CASCADE)."""
    deleted = affected(await conn.execute(DELETE, subscription_id)) == 1
    webhook_events.subscriptions_changed(conn)
    return deleted


async def update_settings(conn: asyncpg.Connection, subscription_id: int, *, url: str,
                          description: str, event_types: tuple[str, ...]) -> Subscription | None:
    row = await conn.fetchrow(UPDATE_SETTINGS, subscription_id, url, description,
                              list(event_types))
    webhook_events.subscriptions_changed(conn)
    return None if row is None else _subscription(row)


async def rotate_secret(conn: asyncpg.Connection, subscription_id: int, *, secret: str,
                        previous_until: datetime) -> Subscription | None:
    row = await conn.fetchrow(ROTATE_SECRET, subscription_id, secret, previous_until)
    return None if row is None else _subscription(row)


async def offer_secret(conn: asyncpg.Connection, subscription_id: int, *, to: int,
                       until: datetime) -> None:
    """`to` (a user) may see the secret once, before `until` (`take_secret`)."""
    await conn.execute(OFFER_SECRET, subscription_id, to, until)


async def take_secret(conn: asyncpg.Connection, subscription_id: int, *, user_id: int,
                      now: datetime) -> str | None:
    """The secret if it is on offer to `user_id` now; the offer ends here."""
    secret: str | None = await conn.fetchval(TAKE_SECRET, subscription_id, user_id, now)
    return secret


async def record_success(conn: asyncpg.Connection, subscription_id: int, *,
                         now: datetime) -> None:
    await conn.execute(RECORD_SUCCESS, subscription_id, now)


async def record_failure(conn: asyncpg.Connection, subscription_id: int, *, now: datetime,
                         disable_after_failures: int, disable_after_seconds: float,
                         reason: str) -> FailureRun | None:
    """Count a failed attempt; disable at the thresholds (`just_disabled`: by this call)."""
    row = await conn.fetchrow(RECORD_FAILURE, subscription_id, now, disable_after_failures,
                              disable_after_seconds, reason)
    if row is None:
        return None  # deleted meanwhile
    return FailureRun(failures=row["consecutive_failures"], since=row["failing_since"],
                      just_disabled=bool(row["just_disabled"]))
