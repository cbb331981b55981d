"""The background job that runs a contact import's dry run or import, chunk by chunk.

Runs under the gateway's supervisor as `imports` (gateway/tasks.py). One
import at a time per gateway: `run_once` claims one due import with a lease
(store/contact_imports.py), reads its file from the first row not yet
committed, and for each chunk of rows, in ONE transaction: classifies them
(services/imports/rows.py, then the SQL half), on the real import writes the
contacts and the consent ledger, and records the progress fenced by the
lease; the contacts' tags (the file's and each row's) are put on in the same
transaction, one set-based statement per tag (store/tags.py `tag_numbers`).
A crash (even kill -9) loses at most the chunk under way; the next
claim (this gateway's restart, or another gateway once the lease ran out)
goes on from the last committed row, and the end state is the same.

A file that cannot be read past some row (a broken CSV line) fails the job
there with the row named; every chunk before it stays committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.services import audit
from gateway.services.imports import reading, rows
from gateway.services.imports.context import row_context
from gateway.services.imports.reading import FileProblem
from gateway.store import consent, contact_imports, contacts, tags
from gateway.store.contact_imports import IMPORT, Attempt, Claimed

log = get_logger("gateway.services.imports")

EXPIRY_SWEEP: Final = timedelta(minutes=10)  # how often run() looks for expired uploads
IMPORT_KEYWORD: Final = "IMPORT"  # the ledger's and the state's keyword of an imported consent

Rules = Any  # gateway.engine.rules.Rules: only its `programs` are read


class LeaseLost(RuntimeError):
    """Another gateway holds this import now: the chunk under way rolls back."""


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    owner: str  # the instance name: whose leases these are
    chunk_rows: int = 10_000
    lease_seconds: float = 120.0
    poll_seconds: float = 2.0
    upload_retention_hours: float = 72.0  # an unused upload's file is kept this long


def staged_record(row: rows.StagedRow, now: datetime) -> tuple[Any, ...]:
    """The row as `import_stage` takes it (store/contact_imports.py STAGE_COLUMNS)."""
    since = (row.consent_at or now).isoformat()
    return (row.row_no, row.msisdn, row.number_hash, row.program, row.program_name,
            row.shortcode, row.skip, row.note, row.column, row.consent, row.consent_source,
            row.consent_at, row.consent_wording, since, row.first_name, row.last_name,
            row.email, row.zip, list(row.tags))


class ImportRunner:
    """`run()` under the supervisor; `run_once()` is one claimed import (tests call it)."""

    def __init__(self, pool: asyncpg.Pool, config: RunnerConfig, rules: Callable[[], Rules],
                 *, clock: Clock = utc_now, privacy_key: bytes | None = None,
                 after_chunk: Callable[[int], Awaitable[None]] | None = None) -> None:
        self._pool = pool
        self._config = config
        self._rules = rules
        self._clock = clock
        self._privacy_key = privacy_key
        self._after_chunk = after_chunk  # tests: a crash between two chunks
        self._wake = asyncio.Event()
        self._stopping = False
        self._next_expiry: datetime | None = None  # the next retention sweep (run())

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def release_own(self) -> int:
        """Give back what this gateway held before it stopped: its run was cut off."""
        async with self._pool.acquire() as conn:
            released = await contact_imports.release_own(conn, self._config.owner)
        if released:
            log.warning("import_leases_released", owner=self._config.owner, imports=released)
        return released

    async def run(self) -> None:
        await self.release_own()
        while not self._stopping:
            now = self._clock()
            if self._next_expiry is None or now >= self._next_expiry:
                await self.expire_uploads()
                self._next_expiry = now + EXPIRY_SWEEP
            if not await self.run_once() and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._config.poll_seconds)
                self._wake.clear()

    async def expire_uploads(self) -> list[int]:
        """The retention sweep: files kept unused past GATEWAY_IMPORT_UPLOAD_RETENTION_HOURS
        are deleted (store/contact_imports.py `EXPIRE`), each expiry audit-logged."""
        now = self._clock()
        before = now - timedelta(hours=self._config.upload_retention_hours)
        async with self._pool.acquire() as conn, conn.transaction():
            expired = await contact_imports.expire(conn, before=before, now=now)
            for import_id in expired:
                await audit.record(conn, None, audit.IMPORT_EXPIRED, f"import:{import_id}",
                                   actor="retention",
                                   hours=self._config.upload_retention_hours)
        if expired:
            log.info("import_uploads_expired", imports=len(expired))
        return expired

    async def run_once(self) -> bool:
        """Claim one due import and run it to its end; False when none was due."""
        async with self._pool.acquire() as conn:
            claimed = await contact_imports.claim(
                conn, now=self._clock(), owner=self._config.owner,
                lease_seconds=self._config.lease_seconds)
        if claimed is None:
            return False
        try:
            await self._run(claimed)
        except LeaseLost:
            log.warning("import_lease_lost", import_id=claimed.id, attempt=claimed.attempts)
        return True

    async def _run(self, claimed: Claimed) -> None:
        attempt = Attempt(claimed.id, self._config.owner, claimed.attempts)
        async with self._pool.acquire() as conn:
            job = await contact_imports.get(conn, claimed.id)
            content = await contact_imports.content(conn, claimed.id)
        assert job is not None and content is not None and job["mapping"] is not None
        context = row_context(job, self._rules(), now=self._clock(),
                              privacy_key=self._privacy_key)
        log.info("import_started", import_id=claimed.id, phase=claimed.phase,
                 from_row=claimed.next_row, attempt=claimed.attempts)
        done = claimed.next_row
        size = self._config.chunk_rows
        try:
            found = reading.rows(job["file_format"], content)
        except FileProblem as err:  # undecodable: checked at upload, so the file changed
            found = _failing(err)
        data = _data_rows(found, skip=done)

        def read_ahead() -> asyncio.Future[tuple[list[rows.StagedRow], FileProblem | None]]:
            # The next chunk is read and classified in a thread while this one's
            # statements run in PostgreSQL: phonenumbers is most of the Python time.
            return asyncio.ensure_future(asyncio.to_thread(_prepare, data, size, context))

        ahead = read_ahead()
        try:
            while True:
                staged, problem = await ahead
                last = problem is not None or len(staged) < size
                if not last:
                    ahead = read_ahead()
                if staged:
                    await self._chunk(attempt, claimed.phase, done, staged)
                    done += len(staged)
                    if self._after_chunk is not None:
                        await self._after_chunk(done)
                if last:
                    break
                if self._stopping:  # the rest waits for the next claim, here or elsewhere
                    async with self._pool.acquire() as conn:
                        await contact_imports.pause(conn, attempt)
                    log.info("import_paused", import_id=claimed.id, rows=done)
                    return
        finally:
            ahead.cancel()  # a chunk read ahead and not used: its rows are read again
        async with self._pool.acquire() as conn, conn.transaction():
            if problem is not None:
                ended = await contact_imports.fail(
                    conn, attempt, now=self._clock(), error=problem.message,
                    row=problem.row, column=problem.column)
            else:
                ended = await contact_imports.finish(conn, attempt, now=self._clock())
            if not ended:
                raise LeaseLost(claimed.id)
            if claimed.phase == IMPORT:
                totals = await contact_imports.counts(conn, claimed.id, IMPORT)
                await audit.record(conn, None, audit.CONTACTS_IMPORTED, f"import:{claimed.id}",
                                   actor=job["created_by"], filename=job["filename"],
                                   rows=done, failed=problem is not None,
                                   counts=[list(t) for t in totals])
        log.info("import_ended", import_id=claimed.id, phase=claimed.phase, rows=done,
                 failed=problem is not None)

    async def _chunk(self, attempt: Attempt, phase: str, done_before: int,
                     staged: list[rows.StagedRow]) -> None:
        now = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            await contact_imports.stage(conn, [staged_record(r, now) for r in staged])
            await contact_imports.classify(conn, attempt.id, phase)
            if phase == IMPORT:
                await contacts.import_chunk(conn, attempt.id, now=now, keyword=IMPORT_KEYWORD)
                await consent.insert_imported(conn, attempt.id, now=now,
                                              keyword=IMPORT_KEYWORD)
                for tag, numbers in await contact_imports.chunk_tags(conn, attempt.id, phase):
                    await tags.tag_numbers(conn, tag, numbers, source="import",
                                           by=f"import:{attempt.id}")
            if not await contact_imports.advance(
                    conn, attempt, now=now, done_before=done_before,
                    next_row=done_before + len(staged),
                    lease_seconds=self._config.lease_seconds):
                raise LeaseLost(attempt.id)


def _data_rows(found: Iterator[tuple[int, tuple[str, ...]]], *,
               skip: int) -> Iterator[tuple[int, tuple[str, ...]]]:
    """The rows after the header, less the first `skip` (committed before a restart)."""
    next(found, None)
    for index, row in enumerate(found):
        if index >= skip:
            yield row


def _failing(problem: FileProblem) -> Iterator[tuple[int, tuple[str, ...]]]:
    raise problem
    yield  # a generator: the problem comes with the first row asked for


def _prepare(data: Iterator[tuple[int, tuple[str, ...]]], size: int, context: rows.Context
             ) -> tuple[list[rows.StagedRow], FileProblem | None]:
    """The next chunk, classified (in a worker thread: pure, and the only reader of `data`)."""
    chunk, problem = _take(data, size)
    return [rows.classify(n, cells, context) for n, cells in chunk], problem


def _take(data: Iterator[tuple[int, tuple[str, ...]]], size: int
          ) -> tuple[list[tuple[int, tuple[str, ...]]], reading.FileProblem | None]:
    """Up to `size` rows, and the problem that stopped the file, if one did."""
    chunk: list[tuple[int, tuple[str, ...]]] = []
    try:
        for row in data:
            chunk.append(row)
            if len(chunk) >= size:
                break
    except reading.FileProblem as err:
        return chunk, err
    return chunk, None


def import_runner(settings: Settings, pool: asyncpg.Pool, rules: Callable[[], Rules], *,
                  clock: Clock = utc_now) -> ImportRunner:
    """The gateway's import task, from GATEWAY_IMPORT_* (always on: it idles cheaply)."""
    secret = settings.privacy_hash_secret
    return ImportRunner(
        pool, RunnerConfig(owner=settings.instance_name, chunk_rows=settings.import_chunk_rows,
                           lease_seconds=settings.import_lease_seconds,
                           poll_seconds=settings.import_poll_seconds,
                           upload_retention_hours=settings.import_upload_retention_hours),
        rules, clock=clock,
        privacy_key=secret.get_secret_value().encode() if secret is not None else None)
