"""Export jobs for warehouses: the CSV written in the background, then `export.completed`.

Why a job and a webhook rather than a long download: a warehouse loader asks
for 500,000 rows from a script, which should not hold an HTTP request open
for minutes; it posts the request, gets 202 and an id, and is told by its
signed webhook (gateway/hooks/, docs/webhooks.md) when the file is ready,
with a download link. As Stripe's file links and S3's pre-signed URLs do,
the link carries its own credential: an HMAC of (export id, expiry) under
GATEWAY_EXPORTS_LINK_SECRET, so the loader needs no API token to fetch it,
and it stops working at its expiry (GATEWAY_EXPORTS_LINK_SECONDS).

The job runs in the gateway process (`request`), writing the file chunk by
chunk from the same streamed query as the page download (services/exports.py)
into PostgreSQL (`contact_export_files`), the only store: any instance serves
the download, and the file goes when GATEWAY_EXPORTS_KEEP_DAYS have passed. A
gateway stopped mid-job leaves it `running` under its instance name;
`fail_stale` marks such jobs failed when that instance starts again, and the
caller asks again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import asyncpg

from gateway.clock import Clock
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.plain_words import N_, said
from gateway.services import audit, exports
from gateway.services.actor import Actor
from gateway.services.errors import ServiceError, conflict, forbidden, not_found
from gateway.store import exports as store
from gateway.store import webhook_events
from gateway.store.exports import ExportJob

log = get_logger("gateway.export_jobs")

_CONTEXT: Final = b"gateway export link v1\n"
_PROCESS_KEY: Final = secrets.token_bytes(32)  # when no secret is configured (see Settings)
FILE_CHUNK: Final = 256 * 1024
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


async def get(conn: asyncpg.Connection, export_id: int) -> ExportJob:
    job = await store.get(conn, export_id)
    if job is None or job.via != "api":
        raise not_found(said(N_("export %(export_id)s"), export_id=export_id))
    return job


async def recent(conn: asyncpg.Connection, limit: int) -> list[tuple[ExportJob, bool]]:
    """The latest jobs for the exports page, each with whether its file is still kept."""
    return await store.recent_jobs(conn, limit)


def may_revoke(actor: Actor, job: ExportJob) -> bool:
    """An admin, or whoever asked for the export, may revoke its download."""
    return actor.role == "admin" or actor.email.lower() == job.requested_by.lower()


def check_may_revoke(actor: Actor, job: ExportJob) -> None:
    if not may_revoke(actor, job):
        raise forbidden("only an admin or whoever asked for this export may revoke its link")


async def revoke(conn: asyncpg.Connection, actor: Actor, client: str, export_id: int, *,
                 now: datetime) -> ExportJob:
    """Revoke one finished export's download: its file deleted, its signed link answering
    410 Gone from now on, audit-logged; the job as it is now."""
    job = await get(conn, export_id)
    check_may_revoke(actor, job)
    if job.revoked_at is not None:
        raise conflict(said(N_("the download of export %(export_id)s was already revoked"),
                            export_id=export_id))
    async with conn.transaction():
        if not await store.revoke(conn, export_id, by=actor.email, now=now):
            raise conflict(said(N_("export %(export_id)s is %(status)s: only a finished "
                                   "export's download can be revoked"),
                                export_id=export_id, status=job.status))
        await audit.record(conn, actor, audit.EXPORT_REVOKED, f"export:{export_id}",
                           client=client, requested_by=job.requested_by, rows=job.rows)
        revoked = await store.get(conn, export_id)
    assert revoked is not None
    log.info("export_revoked", export_id=export_id)
    return revoked


def gone(job: ExportJob) -> ServiceError:
    """What a revoked export's link answers: 410 Gone, with a sentence."""
    return ServiceError(410, "revoked", said(N_(
        "the download of export %(export_id)s was revoked; ask for the export again if you "
        "still need it"), export_id=job.id))


async def request(pool: asyncpg.Pool, settings: Settings, actor: Actor, client: str, *,
                  target: exports.Target, fields: Sequence[str], clock: Clock) -> ExportJob:
    """Record the job and its audit entry, start it, and return it (status `running`)."""
    async with pool.acquire() as conn, conn.transaction():
        export_id = await exports.begin(conn, actor, via="api", target=target, fields=fields,
                                        owner=settings.instance_name)
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
    rows, error = 0, None
    try:
        async with pool.acquire() as conn:
            await store.prune_files(conn, clock() - timedelta(days=settings.exports_keep_days))
        async with pool.acquire() as reader, pool.acquire() as writer:
            file = _ChunkedFile(writer, export_id)
            rows = await exports.write_csv(reader, target, fields, file.write, now=clock())
            await file.close()
    except (OSError, asyncpg.PostgresError, ServiceError) as err:
        error = f"{type(err).__name__}: {err}"
        log.warning("export_job_failed", export_id=export_id, error=type(err).__name__)
    async with pool.acquire() as conn:
        await complete(conn, settings, actor, client, export_id, target=target, fields=fields,
                       rows=rows, error=error, now=clock())


async def complete(conn: asyncpg.Connection, settings: Settings, actor: Actor, client: str,
                   export_id: int, *, target: exports.Target, fields: Sequence[str],
                   rows: int, error: str | None, now: datetime) -> None:
    """The job's end, its audit entry and, when its file is whole, `export.completed` with
    the signed link: one transaction, so a warehouse is never told of a file that is not
    there, nor left untold of one that is."""
    async with conn.transaction():
        await exports.finish(conn, actor, client, export_id, target=target, fields=fields,
                             rows=rows, complete=error is None, action=audit.EXPORT_DOWNLOADED,
                             error=error)
        if error is None:
            link = make_link(settings, export_id, now=now)
            await webhook_events.emit(conn, [webhook_events.NewWebhookEvent(
                webhook_events.EXPORT_COMPLETED, {
                    "export_id": export_id, "rows": rows, "program": target.program,
                    "segment_id": target.segment_id, "fields": list(fields),
                    "download_url": link.url, "expires_at": link.expires_at.isoformat()},
                occurred_at=now)])


class _ChunkedFile:
    """The CSV as it is written, stored in PostgreSQL in chunks of about `FILE_CHUNK`
    bytes, so that memory holds one chunk and any instance can serve the file."""

    def __init__(self, conn: asyncpg.Connection, export_id: int) -> None:
        self._conn = conn
        self._export_id = export_id
        self._buffer = bytearray()
        self._seq = 0

    async def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= FILE_CHUNK:
            await self._flush()

    async def close(self) -> None:
        if self._buffer or self._seq == 0:
            await self._flush()

    async def _flush(self) -> None:
        await store.append_chunk(self._conn, self._export_id, self._seq, bytes(self._buffer))
        self._seq += 1
        self._buffer.clear()


async def file_chunks(pool: asyncpg.Pool, job: ExportJob) -> AsyncIterator[bytes]:
    """A finished job's file, chunk by chunk; nothing for a job that is not done."""
    if job.status != "done":
        return
    seq = 0
    while True:
        async with pool.acquire() as conn:
            data = await store.file_chunk(conn, job.id, seq)
        if data is None:
            return
        yield data
        seq += 1


async def drain() -> None:
    """Wait for the jobs running in this process (at shutdown, and in tests)."""
    while _RUNNING:
        for outcome in await asyncio.gather(*_RUNNING, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.error("export_job_crashed", error=repr(outcome))


async def stop() -> None:
    """At shutdown: jobs under way are cancelled, not waited for (a large one takes
    minutes); they stay `running` under this instance's name, and `fail_stale` fails them
    when it starts again."""
    for task in list(_RUNNING):
        task.cancel()
    await asyncio.gather(*_RUNNING, return_exceptions=True)


async def fail_stale(conn: asyncpg.Connection, settings: Settings, *, now: datetime) -> int:
    """Jobs this instance left running when it stopped (started before `now`) are failed
    and their partial files deleted; another instance's jobs are its own."""
    return await store.fail_stale(conn, owner=settings.instance_name, before=now)
