"""MO ingest: deliver_sm in, one committed transaction, deliver_sm_resp out.

The guarantees live here:
- *No MO lost*: `handle_deliver` returns the status for deliver_sm_resp only
  after the transaction holding the MO (and everything decided about it)
  has committed. A crash before that leaves the MO unacknowledged and the
  SMSC redelivers it.
- *In order per number*: every number hashes to one lane; a lane is one
  `Batcher` with one worker, so one number's texts are decided in arrival
  order while different numbers proceed in parallel on other lanes.
- *In order per number across instances*: the SMSC spreads a number's texts
  over every instance's bind, so each batch transaction first takes its
  numbers' advisory locks (store/number_locks.py), in ascending order, and
  holds them to COMMIT: no instance decides on a contact another instance
  is changing, and a STOP is never overwritten by a stale state.
- *Throughput*: a lane commits many MOs per transaction (group commit).

A batch that fails on bad data is retried item by item, so one poisonous
message cannot hold back the others that arrived with it.

*Not twice*: every MO stored leaves an `inbound_unacked` record until the
SMSC is seen to read its deliver_sm_resp (`ReadMarks`). An MO matching such
a record (redelivery.py) is acknowledged and recorded as a redelivery, not
stored or decided again.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway import smstext as text
from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.engine.holder import RulesHolder
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.phone import InvalidNumber, to_e164
from gateway.pipeline.batcher import Batcher, BatcherClosed
from gateway.pipeline.decide import DecisionWriter
from gateway.pipeline.read_marks import ReadMarks
from gateway.pipeline.redelivery import Arrival, Repeat, find_repeats, mo_digest
from gateway.pipeline.reply_handoff import ReplyTaker, Ticket
from gateway.smpp import udh
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.link import DeliverAnswer
from gateway.smpp.pdu import Pdu
from gateway.store import inbound as inbound_store
from gateway.store import number_locks, one_statement
from gateway.store.inbound import IdReserve, NewInbound, PartKey, Redelivery, Unacked

log = get_logger("gateway.ingest")


@dataclass(frozen=True, slots=True)
class MoItem:
    """One deliver_sm that carries a supporter's text, or a part of one."""

    msisdn: str
    shortcode: str
    data_coding: int
    body: bytes
    concat: udh.ConcatInfo | None
    received_at: datetime
    digest: bytes  # what a redelivery of this very PDU would match (redelivery.py)


@dataclass(frozen=True, slots=True)
class FlushParts:
    """Give up waiting for the missing parts of a long MO and decide on what arrived."""

    key: PartKey
    received_at: datetime


LaneItem = MoItem | FlushParts
# A lane's answer per item: the deliver_sm_resp status, and the `inbound_unacked`
# record to forget once the SMSC has read that resp (None: nothing to forget).
Stored = tuple[int, int | None]


class Ingest:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        rules: RulesHolder,
        metrics: Metrics,
        *,
        on_committed: Callable[[], None] = lambda: None,
        handoff: ReplyTaker | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._rules = rules
        key = settings.privacy_hash_secret
        self._writer = DecisionWriter(
            rules, privacy_key=key.get_secret_value().encode() if key is not None else None,
            link_base=settings.link_base())
        self._ids = IdReserve("inbound_id_seq")
        self._unacked_ids = IdReserve("inbound_unacked_id_seq")
        self._window = timedelta(seconds=settings.mo_redelivery_window)
        self.read_marks = ReadMarks(pool, window=self._window, clock=clock)
        self._metrics = metrics
        self._on_committed = on_committed  # replies were queued: wake the sender
        self._handoff = handoff  # the sender that takes replies as they are written
        self._clock = clock
        self.lanes: list[Batcher[LaneItem, Stored]] = [
            Batcher(
                self._process,
                max_batch=settings.ingest_batch,
                linger=settings.ingest_linger_ms / 1000,
                name=f"lane-{n}",
            )
            for n in range(settings.ingest_lanes)
        ]

    def start(self) -> None:
        self.read_marks.start()
        for lane in self.lanes:
            lane.start()

    async def close(self) -> None:
        for lane in self.lanes:
            await lane.close()
        await self.read_marks.close()

    def lane_for(self, msisdn: str) -> Batcher[LaneItem, Stored]:
        return self.lanes[zlib.crc32(msisdn.encode()) % len(self.lanes)]

    async def handle_mo(self, pdu: Pdu) -> int | DeliverAnswer:
        """Store one MO (or MO part) durably; return the deliver_sm_resp status.

        A stored MO's answer also says whom to tell once the SMSC has read it.
        """
        received_at = self._clock()
        self._metrics.mo_received.inc()
        try:
            msisdn = to_e164(
                pdu.get_str("source_addr"),
                ton=pdu.get_int("source_addr_ton"),
                default_region=self._settings.default_region,
            )
        except InvalidNumber as err:
            log.warning("mo_rejected", reason=str(err), status="ESME_RINVSRCADR")
            return S.ESME_RINVSRCADR
        try:
            concat, body = udh.parse_concat(pdu.get_int("esm_class"), pdu.short_message, pdu.tlvs)
        except udh.UdhError as err:
            log.warning("mo_rejected", msisdn=msisdn, reason=str(err), status="ESME_RINVESMCLASS")
            return S.ESME_RINVESMCLASS
        shortcode = pdu.get_str("destination_addr") or self._settings.shortcode
        if shortcode not in self._rules.current.shortcodes:
            self._metrics.mo_unknown_shortcode.inc()
            log.warning("mo_unknown_shortcode", msisdn=msisdn, shortcode=shortcode)
        data_coding = pdu.get_int("data_coding")
        item = MoItem(
            msisdn=msisdn,
            shortcode=shortcode,
            data_coding=data_coding,
            body=body,
            concat=concat,
            received_at=received_at,
            digest=mo_digest(msisdn, shortcode, data_coding, body, concat),
        )
        try:
            status, unacked_id = await self.lane_for(msisdn).submit(item)
        except BatcherClosed:
            return S.ESME_RX_T_APPN
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
            log.error("mo_not_stored", msisdn=msisdn, error=type(err).__name__, detail=str(err))
            return S.ESME_RX_T_APPN
        if unacked_id is None:
            return status
        return DeliverAnswer(status, lambda: self.read_marks.read(unacked_id))

    async def flush_stale_parts(self) -> int:
        """Hand long MOs whose parts stopped arriving to their lanes; return how many."""
        older_than = self._clock().timestamp() - self._settings.reassembly_timeout
        async with self._pool.acquire() as conn:
            groups = await inbound_store.list_stale_groups(
                conn, datetime.fromtimestamp(older_than, UTC)
            )
        for key in groups:
            await self.lane_for(key.msisdn).submit(FlushParts(key, self._clock()))
        return len(groups)

    async def _process(self, items: Sequence[LaneItem]) -> list[Stored]:
        async with self._pool.acquire() as conn:
            ticket = self._ticket()
            try:
                async with number_locks.transaction(conn):
                    applied = await self._apply(conn, items, ticket)
            except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
                _cancel(ticket, lost=True)  # the COMMIT may have reached the database
                raise  # the database is gone: every caller answers "try later"
            except Exception as err:  # bad data or an engine bug: isolate the culprit
                _cancel(ticket, lost=False)
                log.warning("batch_retried_singly", size=len(items), error=type(err).__name__)
                return [await self._process_one(conn, item) for item in items]
            except BaseException:  # cancelled: where it stopped is unknown
                _cancel(ticket, lost=True)
                raise
        self._after_commit(applied, ticket)
        return [(S.ESME_ROK, unacked_id) for unacked_id in applied.unacked]

    async def _process_one(self, conn: asyncpg.Connection, item: LaneItem) -> Stored:
        msisdn = _msisdn(item)
        ticket = self._ticket()
        try:
            async with number_locks.transaction(conn):
                applied = await self._apply(conn, [item], ticket)
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
            _cancel(ticket, lost=True)
            raise
        except asyncpg.PostgresError as err:
            _cancel(ticket, lost=False)
            log.error("mo_refused", msisdn=msisdn, error=type(err).__name__, detail=str(err))
            return S.ESME_RX_P_APPN, None
        except Exception as err:
            _cancel(ticket, lost=False)
            # The engine failed on this MO. Keep the text (it was sent to us and
            # must not be lost or redelivered forever) without a decision.
            log.error("mo_decision_failed", msisdn=msisdn, error=type(err).__name__, exc_info=True)
            ticket = None
            async with number_locks.transaction(conn):
                applied = await self._apply(conn, [item], None, decide=False)
        except BaseException:
            _cancel(ticket, lost=True)
            raise
        self._after_commit(applied, ticket)
        return S.ESME_ROK, applied.unacked[0]

    def _ticket(self) -> Ticket | None:
        """This transaction's reservation with the sender (pipeline/reply_handoff.py)."""
        return Ticket(self._handoff) if self._handoff is not None else None

    def _after_commit(self, applied: Applied, ticket: Ticket | None) -> None:
        handed = len(ticket.messages) if ticket is not None else 0
        if ticket is not None:
            ticket.adopt()
        self._metrics.mo_committed.inc(applied.stored)
        if applied.redelivered:
            self._metrics.mo_redelivered.inc(applied.redelivered)
        if applied.replies:
            self._metrics.mt_queued.inc(applied.replies)
            if applied.replies > handed:  # some wait in the queue: the sender claims them
                self._on_committed()

    async def _apply(
        self, conn: asyncpg.Connection, items: Sequence[LaneItem], ticket: Ticket | None,
        *, decide: bool = True,
    ) -> Applied:
        # The first statement of the transaction (number_locks.transaction) takes these
        # numbers' locks, then reads: another instance may be deciding (or one of our
        # MTs may be leaving for) the same number now (store/number_locks.py).
        mos = [item for item in items if isinstance(item, MoItem)]
        since = min((m.received_at for m in mos), default=None)
        found = await self._writer.read(  # the contacts' states and what the MOs may repeat
            conn, list(dict.fromkeys(map(_key, items))), digests=[m.digest for m in mos],
            since=since - self._window if since is not None else None, lock=True)
        repeats = self._repeats(items, found.unacked)
        complete: list[NewInbound] = []
        owners: list[int] = []  # the item that completed each MO
        for index, item in enumerate(items):
            if repeats[index] is not None:
                continue
            mo = await self._complete(conn, item)
            if mo is not None:
                complete.append(mo)
                owners.append(index)
        ids = await self._ids.take(conn, len(complete)) if complete else []
        made = dict(zip(owners, ids, strict=True))
        unacked, unread, again = await self._remember_unacked(conn, items, repeats, made)
        # The MOs and their unread records are written with the decisions, in one
        # statement (store/one_statement.py): ids are reserved, nothing reads them before.
        first = [inbound_store.insert_step(complete, ids), inbound_store.unacked_step(unread)]
        pairs = list(zip(ids, complete, strict=True))
        if not decide:
            await one_statement.run(conn, [step for step in first if step.rows])
            await self._writer.record_undecided(conn, pairs)
            replies = 0
        else:
            replies = await self._writer.decide_and_write(conn, pairs, first=first, found=found,
                                                          handoff=ticket)
        await inbound_store.insert_redeliveries(conn, again)  # they point at stored MOs
        redelivered = sum(repeat is not None for repeat in repeats)
        return Applied(unacked, len(items) - redelivered, redelivered, replies)

    def _repeats(self, items: Sequence[LaneItem], unacked: Sequence[Unacked]) -> list[Repeat]:
        """Per item, the stored MO it repeats (see redelivery.py); a flush repeats nothing.

        `unacked`: the unread records of the items' digests within the window, in id order.
        """
        mos = [(index, item) for index, item in enumerate(items) if isinstance(item, MoItem)]
        if not mos:
            return [None] * len(items)
        arrivals = [Arrival(item.digest, item.received_at) for _, item in mos]
        stored = [row for row in unacked if not self.read_marks.was_read(row.id)]
        found = find_repeats(arrivals, stored, self._window)
        repeats: list[Repeat] = [None] * len(items)
        for (index, _), repeat in zip(mos, found, strict=True):
            repeats[index] = mos[repeat][0] if isinstance(repeat, int) else repeat
        return repeats

    async def _remember_unacked(
        self, conn: asyncpg.Connection, items: Sequence[LaneItem], repeats: Sequence[Repeat],
        inbound_ids: dict[int, int],
    ) -> tuple[list[int | None], list[Unacked], list[Redelivery]]:
        """Per item, its unread record; the new MOs' records to insert, the repeats'
        redeliveries to record (nothing is written here)."""
        new = [(i, item) for i, item in enumerate(items)
               if isinstance(item, MoItem) and repeats[i] is None]
        record_ids = await self._unacked_ids.take(conn, len(new)) if new else []
        rows = {
            index: Unacked(record_id, item.digest, item.received_at, inbound_ids.get(index))
            for (index, item), record_id in zip(new, record_ids, strict=True)
        }
        result: list[int | None] = [rows[i].id if i in rows else None for i in range(len(items))]
        again: list[Redelivery] = []
        for index, (item, repeat) in enumerate(zip(items, repeats, strict=True)):
            if repeat is None or not isinstance(item, MoItem):
                continue
            first = rows[repeat] if isinstance(repeat, int) else repeat
            result[index] = first.id
            again.append(Redelivery(first.inbound_id, first.received_at, item.received_at))
            log.info("mo_redelivered", msisdn=item.msisdn,
                     first_received_at=first.received_at.isoformat())
        return result, list(rows.values()), again

    async def _complete(self, conn: asyncpg.Connection, item: LaneItem) -> NewInbound | None:
        if isinstance(item, FlushParts):
            return await self._assemble(conn, item.key, item.received_at, require_all=False)
        if item.concat is None:
            return NewInbound(
                item.msisdn, item.shortcode, _decoded(item.body, item.data_coding),
                item.data_coding, 1, item.received_at,
            )
        key = PartKey(item.msisdn, item.shortcode, item.concat.ref, item.concat.total)
        await inbound_store.insert_part(
            conn, key, item.concat.seq, item.data_coding, item.body, item.received_at
        )
        return await self._assemble(conn, key, item.received_at, require_all=True)

    async def _assemble(
        self, conn: asyncpg.Connection, key: PartKey, at: datetime, *, require_all: bool
    ) -> NewInbound | None:
        parts = await inbound_store.list_parts(conn, key)
        if not parts or (require_all and len(parts) < key.total):
            return None
        await inbound_store.delete_parts(conn, key)
        data_coding = parts[0]["data_coding"]
        body = _decoded(b"".join(p["body"] for p in parts), data_coding)
        if len(parts) < key.total:
            log.warning("mo_parts_missing", msisdn=key.msisdn, have=len(parts), total=key.total)
        return NewInbound(key.msisdn, key.shortcode, body, data_coding, len(parts), at)


def _msisdn(item: LaneItem) -> str:
    return item.msisdn if isinstance(item, MoItem) else item.key.msisdn


def _key(item: LaneItem) -> tuple[str, str]:
    """The contact an item's MO will be decided on: (number, short code)."""
    return (item.msisdn, item.shortcode) if isinstance(item, MoItem) else (
        item.key.msisdn, item.key.shortcode)


def _cancel(ticket: Ticket | None, *, lost: bool) -> None:
    if ticket is not None:
        ticket.cancel(lost=lost)


@dataclass(frozen=True, slots=True)
class Applied:
    """What one transaction did: per item its unread record, and the counts."""

    unacked: list[int | None]
    stored: int
    redelivered: int
    replies: int


def _decoded(body: bytes, data_coding: int) -> str:
    """PostgreSQL text cannot hold NUL; a UCS-2 U+0000 from the network becomes U+FFFD."""
    return text.decode(body, data_coding).replace("\x00", "\ufffd")
