"""IMAP polling: an existing mailbox as the way mail comes in, stored like the listener's.

Why: many campaigns have only a hosted mailbox and cannot point an MX or a
forward at the gateway. Every poll opens one session (imap_box.py, in a
thread), takes the messages whose UID is above the last one recorded under
the folder's UIDVALIDITY, stores each one with its UID row in one
transaction, then, if a done folder is set, moves what was stored.

Why nothing is stored twice: a crash between storing and moving leaves the
UID row with no `moved_at`; the next poll does not fetch it again (its UID is
not above the last) and moves it. If the server resets the folder's
UIDVALIDITY, every message comes again under new UIDs; the dedupe key (the
mailbox and the bytes) finds each one already stored and only the UID row is
new. A message over the size limit is not fetched: its UID row says
`skipped`, it stays in the folder (never moved), and a warning is logged.

Why a failed poll is logged and retried at the next interval rather than
raised to the supervisor: an IMAP provider that refuses a login or times out
for a while must not stop the gateway's SMS work; nothing is lost, the mail
waits in the mailbox.
"""

from __future__ import annotations

import asyncio
import imaplib
from collections.abc import Collection
from dataclasses import dataclass

import asyncpg

from gateway.logs import get_logger
from gateway.mail.imap_box import ImapConfig, ImapError, ImapFolder
from gateway.mail.record import build_record, imap_dedupe_key
from gateway.store import mail_imap, mail_inbound

log = get_logger("gateway.mail.imap")

POLL_ERRORS = (ImapError, imaplib.IMAP4.error, OSError, EOFError)


@dataclass(slots=True)
class PollResult:
    stored: int = 0
    already_stored: int = 0
    skipped: int = 0
    moved: int = 0


class ImapPoller:
    def __init__(self, pool: asyncpg.Pool, config: ImapConfig, *, interval: float,
                 max_message_bytes: int, max_attachment_bytes: int,
                 own_addresses: Collection[str] = ()) -> None:
        self.pool = pool
        self.config = config
        self.interval = interval
        self.max_message_bytes = max_message_bytes
        self.max_attachment_bytes = max_attachment_bytes
        self.own_addresses = frozenset(own_addresses)
        self.failed_polls = 0  # in a row; 0 after a poll that worked

    async def run(self) -> None:
        """Poll now, then every `interval` seconds, until cancelled."""
        while True:
            try:
                result = await self.poll_once()
            except POLL_ERRORS as err:
                self.failed_polls += 1
                log.warning("mail_imap_poll_failed", mailbox=self.config.mailbox,
                            error=type(err).__name__, detail=_said(err)[:300],
                            failed_polls=self.failed_polls)
            else:
                self.failed_polls = 0
                if result.stored or result.skipped or result.moved:
                    log.info("mail_imap_polled", mailbox=self.config.mailbox,
                             stored=result.stored, already_stored=result.already_stored,
                             skipped=result.skipped, moved=result.moved)
            await asyncio.sleep(self.interval)

    async def poll_once(self) -> PollResult:
        box = ImapFolder(self.config)
        await asyncio.to_thread(box.open)
        try:
            result = PollResult()
            await self._take_new(box, result)
            if self.config.done_folder:
                await self._move_stored(box, self.config.done_folder, result)
            return result
        finally:
            await asyncio.to_thread(box.close)

    async def _take_new(self, box: ImapFolder, result: PollResult) -> None:
        mailbox, uidvalidity = self.config.mailbox, box.uidvalidity
        async with self.pool.acquire() as conn:
            last = await mail_imap.last_uid(conn, mailbox, uidvalidity)
        for uid in await asyncio.to_thread(box.uids_after, last):
            size = await asyncio.to_thread(box.size, uid)
            if size is not None and size > self.max_message_bytes:
                await self._skip(uidvalidity, uid, size, result)
                continue
            raw = await asyncio.to_thread(box.body, uid) if size is not None else None
            if raw is None:
                continue  # expunged while we looked: nothing to take
            if len(raw) > self.max_message_bytes:
                await self._skip(uidvalidity, uid, len(raw), result)
                continue
            record = await asyncio.to_thread(
                build_record, raw, intake="imap", dedupe_key=imap_dedupe_key(mailbox, raw),
                envelope_from=None, peer=mailbox,
                max_attachment_bytes=self.max_attachment_bytes,
                own_addresses=self.own_addresses)
            async with self.pool.acquire() as conn, conn.transaction():
                mail_id, created = await mail_inbound.insert(conn, record)
                await mail_imap.record_uid(conn, mailbox, uidvalidity, uid, mail_id=mail_id)
            if created:
                result.stored += 1
                log.info("mail_stored", mail_id=mail_id, size=len(raw), intake="imap")
            else:
                result.already_stored += 1

    async def _skip(self, uidvalidity: int, uid: int, size: int, result: PollResult) -> None:
        reason = f"too big: {size} bytes, the limit is {self.max_message_bytes}"
        async with self.pool.acquire() as conn:
            await mail_imap.record_uid(conn, self.config.mailbox, uidvalidity, uid,
                                       mail_id=None, skipped=reason)
        result.skipped += 1
        log.warning("mail_imap_message_skipped", mailbox=self.config.mailbox, uid=uid,
                    reason=reason)

    async def _move_stored(self, box: ImapFolder, folder: str, result: PollResult) -> None:
        mailbox, uidvalidity = self.config.mailbox, box.uidvalidity
        while True:
            async with self.pool.acquire() as conn:
                uids = await mail_imap.unmoved(conn, mailbox, uidvalidity)
            if not uids:
                return
            await asyncio.to_thread(box.move, uids, folder)
            async with self.pool.acquire() as conn:
                await mail_imap.mark_moved(conn, mailbox, uidvalidity, uids)
            result.moved += len(uids)


def _said(err: BaseException) -> str:
    """imaplib's errors carry the server's bytes: show them as text."""
    first = err.args[0] if err.args else ""
    return first.decode("utf-8", "replace") if isinstance(first, bytes) else str(err)
