"""Export jobs for warehouses: the CSV written in the background, then `export.completed`.

Why a job and a webhook rather than a long download: a warehouse loader asks
for 500,000 rows from a script, which should not hold an HTTP request open
for minutes; it posts the request, gets 202 and an id, and is told by its
signed webhook (gateway/hooks/, docs/webhooks.md) when the file is ready,
with a download link. As Stripe's file links and S3's pre-signed URLs do,
the link carries its own credential: an HMAC of (export id, expiry) under
GATEWAY_EXPORTS_LINK_SECRET, so the loader needs no API token to fetch it,
and it stops working at its expiry (GATEWAY_EXPORTS_LINK_SECONDS).

The job runs in the gateway process (`start`), writing the file chunk by
chunk from the same streamed query as the page download (services/exports.py).
A gateway stopped mid-job leaves it `running`; `fail_stale` marks such jobs
failed at the next start, and the caller asks again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Final

import asyncpg

from gateway.clock import Clock
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.services import audit, exports
from gateway.services.actor import Actor
from gateway.services.errors import ServiceError, not_found
from gateway.store import exports as store
from gateway.store import webhook_events
from gateway.store.exports import ExportJob

log = get_logger("gateway.export_jobs")

_CONTEXT: Final = b"gateway export link v1\n"
_PROCESS_KEY: Final = secrets.token_bytes(32)  # when no secret is configured (see Settings)
_RUNNING: set[asyncio.Task[None]] = set()  # kept so the loop does not drop a running job


class BadLink(Exception):
    """A download token that is not ours, not for this export, or expired."""


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    expires_at: datetime


def _key(settings: Settings) -> bytes:
    secret = settings.exports_link_secret
    return secret.get_secret_value().encode() if secret is not None else _PROCESS_KEY


def _mac(key: bytes, export_id: int, expires: int) -> str:
    digest = hmac.new(key, _CONTEXT + f"{export_id}.{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def download_path(export_id: int) -> str:
    return f"/api/v1/exports/{export_id}/file"


def make_link(settings: Settings, export_id: int, *, now: datetime) -> Link:
    """The signed, expiring download link of a finished export."""
    expires_at = now + timedelta(seconds=settings.exports_link_seconds)
    expires = int(expires_at.timestamp())
    token = f"{expires}.{_mac(_key(settings), export_id, expires)}"
    return Link(settings.public_url(f"{download_path(export_id)}?token={token}"),
                datetime.fromtimestamp(expires, UTC))


def check_token(settings: Settings, export_id: int, token: str, *, now: datetime) -> None:
    """BadLink unless `token` was made for this export by us and has not expired."""
    expires_text, _, mac = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        raise BadLink("malformed")
    expected = _mac(_key(settings), export_id, int(expires_text))
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        raise BadLink("not signed by this gateway for this export")
    if now.timestamp() >= int(expires_text):
        raise BadLink("expired")


def file_path(settings: Settings, job: ExportJob) -> Path | None:
    """The finished job's file, if it is still there."""
    if job.status != "done" or job.file_name is None:
        return None
    path = settings.exports_dir / job.file_name
    return path if path.is_file() else None


async def get(conn: asyncpg.Connection, export_id: int) -> ExportJob:
    job = await store.get(conn, export_id)
    if job is None or job.via != "api":
        raise not_found(f"export {export_id}")
    return job


async def request(pool: asyncpg.Pool, settings: Settings, actor: Actor, client: str, *,
                  target: exports.Target, fields: Sequence[str], clock: Clock) -> ExportJob:
    """Record the job and its audit entry, start it, and return it (status `running`)."""
    async with pool.acquire() as conn, conn.transaction():
        export_id = await exports.begin(conn, actor, via="api", target=target, fields=fields)
        await audit.record(conn, actor, audit.EXPORT_REQUESTED, f"export:{export_id}",
                           client=client, program=target.program, segment_id=target.segment_id,
                           filter=target.filter, fields=list(fields))
        job = await store.get(conn, export_id)
    assert job is not None
    task = asyncio.create_task(_run(pool, settings, actor, client, export_id, target,
                                    tuple(fields), clock))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return job


async def _run(pool: asyncpg.Pool, settings: Settings, actor: Actor, client: str,
               export_id: int, target: exports.Target, fields: tuple[str, ...],
               clock: Clock) -> None:
    name = f"export-{export_id}-{secrets.token_hex(8)}.csv"
    directory = settings.exports_dir
    rows, error = 0, None
    try:
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(prune, directory, clock() - timedelta(
            days=settings.exports_keep_days))
        handle: IO[bytes] = await asyncio.to_thread(open, directory / name, "xb")
        try:
            async with pool.acquire() as conn:
                rows = await exports.write_csv(
                    conn, target, fields, lambda data: _write(handle, data), now=clock())
        finally:
            await asyncio.to_thread(handle.close)
    except (OSError, asyncpg.PostgresError, ServiceError) as err:
        error = f"{type(err).__name__}: {err}"
        log.warning("export_job_failed", export_id=export_id, error=type(err).__name__)
    async with pool.acquire() as conn, conn.transaction():
        await exports.finish(conn, actor, client, export_id, target=target, fields=fields,
                             rows=rows, complete=error is None, action=audit.EXPORT_DOWNLOADED,
                             file_name=name if error is None else None, error=error)
        if error is None:
            now = clock()
            link = make_link(settings, export_id, now=now)
            await webhook_events.emit(conn, [webhook_events.NewWebhookEvent(
                webhook_events.EXPORT_COMPLETED, {
                    "export_id": export_id, "rows": rows, "program": target.program,
                    "segment_id": target.segment_id, "fields": list(fields),
                    "download_url": link.url, "expires_at": link.expires_at.isoformat()},
                occurred_at=now)])


def prune(directory: Path, before: datetime) -> int:
    """Delete the export files written before `before` (GATEWAY_EXPORTS_KEEP_DAYS); how many.
    Their links have long expired; the audit log keeps that they were made."""
    removed = 0
    for path in directory.glob("export-*.csv"):
        if datetime.fromtimestamp(path.stat().st_mtime, UTC) < before:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


async def _write(handle: IO[bytes], data: bytes) -> None:
    await asyncio.to_thread(handle.write, data)


async def drain() -> None:
    """Wait for the jobs running in this process (at shutdown, and in tests)."""
    while _RUNNING:
        for outcome in await asyncio.gather(*_RUNNING, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.error("export_job_crashed", error=repr(outcome))


async def fail_stale(conn: asyncpg.Connection, *, now: datetime) -> int:
    """Jobs a stopped gateway left running (started before `now`) are failed."""
    return await store.fail_stale(conn, before=now)
