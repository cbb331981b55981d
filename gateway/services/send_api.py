"""The send API: one message or a batch, to numbers or to a program's segment, as broadcasts.

Why every API message is a broadcast underneath: the broadcast path already
is the one way a campaign-initiated text reaches the outbox with the
program's consent, quiet hours per recipient's zone, the subject's frequency
cap, the program's promised frequency, the send-time opt-out check and the
sender's TPS. A segment is a broadcast with the segment's filter; numbers
are broadcasts whose filter is `number in (...)` (a chunk of at most
`NUMBERS_PER_BROADCAST`), one per (program, short code, text). A number
that has opted out, or is not subscribed to the program, is never queued:
its message is `suppressed` at once, with the reason (a short code may
only text those who asked; this is where the API differs from Twilio's).
So is a number that already had its program's promised frequency
(`frequency_limit`): the batch names it and goes to the others, where a
segment past the promise refuses the request whole (409), as the composer does.

The Idempotency-Key (Stripe's rules): the first request with a key makes
the batch and its answer in one transaction; the same key and the same
body within GATEWAY_SEND_API_IDEMPOTENCY_HOURS gets that answer again; the
same key with another body is a 422. A refused request (400) is not
remembered: fixing the body and retrying with the key works.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from gateway.audience import AudienceError, NumberIn, format_audience, parse_audience
from gateway.broadcast import compose_checks, control, frequency, service
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.messages import BroadcastTextError
from gateway.engine import Rules
from gateway.logs import get_logger, mask_msisdn
from gateway.phone import InvalidNumber, to_valid_e164
from gateway.plain_words import N_, said
from gateway.services import audit
from gateway.services.actor import Identity
from gateway.services.errors import ServiceError, invalid
from gateway.store import api_sends

log = get_logger(__name__)

NUMBERS_PER_BROADCAST = 500  # keeps a filter under the audience language's length limit
MAX_KEY_LENGTH = 255
# A number one more message would push past its program's promised frequency: refused,
# named in the answer like an opted-out one, and the rest of the batch goes.
FREQUENCY_LIMIT = "frequency_limit"


@dataclass(frozen=True, slots=True)
class MessageFields:
    """One message as the body gave it (after its types were checked)."""

    program: str
    text: str
    to: str | None = None
    segment: str | None = None
    shortcode: str | None = None


@dataclass(frozen=True, slots=True)
class Wanted:
    """One message checked: `to` in E.164, or a `segment` filter ("" is everyone)."""

    index: int
    program: str
    text: str
    to: str | None
    segment: str | None
    shortcode: str | None


@dataclass(frozen=True, slots=True)
class Sender:
    principal: Identity
    token_id: int | None
    client: str


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    response: dict[str, Any]
    replayed: bool = False


def field_of(index: int, name: str, *, batch: bool) -> str:
    return f"messages.{index}.{name}" if batch else name


def check_messages(messages: Sequence[MessageFields], *, limit: int, region: str,
                   batch: bool) -> list[Wanted]:
    """Each message's number in E.164 (or its segment parsed); 400 naming index and value."""
    if len(messages) > limit:
        raise invalid(said(N_("at most %(limit)s messages in one request "
                              "(GATEWAY_SEND_API_BATCH_LIMIT); this one has %(count)s"),
                           limit=limit, count=len(messages)),
                      field="messages", code="batch_too_large")
    if not messages:
        raise invalid(N_("no message to send"), field="messages")
    wanted: list[Wanted] = []
    for index, message in enumerate(messages):
        where = f"message {index}" if batch else "the message"
        if (message.to is None) == (message.segment is None):
            raise invalid(said(N_("%(where)s: give either `to` (a number) or `segment` (a filter "
                                  "of the program's subscribers), not both or neither"),
                               where=where),
                          field=field_of(index, "to", batch=batch))
        to = None
        if message.to is not None:
            try:
                to = to_valid_e164(message.to, default_region=region)
            except InvalidNumber:
                raise invalid(said(N_("%(where)s: %(to)s is not a phone number (write it in E.164, "
                                      "e.g. +12025550123)"),
                                   where=where, to=mask_msisdn(message.to)),
                              field=field_of(index, "to", batch=batch),
                              code="invalid_number") from None
        if message.segment is not None:
            try:
                parse_audience(message.segment)
            except AudienceError as err:
                raise invalid(said(N_("%(where)s: segment %(err)s"), where=where, err=err),
                              field=field_of(index, "segment", batch=batch)) from None
        wanted.append(Wanted(index, message.program, message.text, to, message.segment,
                             message.shortcode))
    return wanted


def request_hash(payload: Mapping[str, Any]) -> bytes:
    """The body's fingerprint: its canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).digest()


async def send(conn: asyncpg.Connection, wanted: Sequence[Wanted], *, sender: Sender,
               key: str | None, fingerprint: bytes, rules: Rules, default_shortcode: str,
               now: datetime, zone: str, remember: timedelta) -> Outcome:
    """Make the batch and its broadcasts, in the caller's transaction; or replay the key's."""
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise invalid(said(N_("the Idempotency-Key must be 1 to %(max_key_length)s characters"),
                           max_key_length=MAX_KEY_LENGTH),
                      field="Idempotency-Key")
    claim = await api_sends.new_batch(
        conn, user_id=sender.principal.user_id, token_id=sender.token_id, key=key,
        request_hash=fingerprint, now=now, remember=remember)
    if claim.batch_id is None:
        if claim.request_hash != fingerprint:
            raise ServiceError(422, "idempotency_key_reused",
                               N_("this Idempotency-Key was used with another body; use a new key "
                                  "for a new request"), field="Idempotency-Key")
        assert claim.response is not None and claim.status_code is not None
        return Outcome(claim.status_code, claim.response, replayed=True)
    batch_id = claim.batch_id
    try:
        rows = await _broadcasts(conn, wanted, sender=sender, batch_id=batch_id, rules=rules,
                                 default_shortcode=default_shortcode, now=now, zone=zone)
    except (AudienceError, BroadcastTextError, ComposeError, service.BroadcastError) as err:
        raise _refused(err) from None
    ids = await api_sends.insert_messages(conn, batch_id, rows)
    response = {
        "batch_id": batch_id, "idempotency_key": key,
        "messages": [{"id": ids[row.position], "index": row.position,
                      "status": "suppressed" if row.refused else "accepted",
                      "reason": row.refused, "broadcast_id": row.broadcast_id}
                     for row in rows]}
    await api_sends.set_response(conn, batch_id, 201, response)
    log.info("send_api_batch", batch_id=batch_id, messages=len(rows),
             refused=sum(1 for r in rows if r.refused))
    return Outcome(201, response)


async def _broadcasts(conn: asyncpg.Connection, wanted: Sequence[Wanted], *, sender: Sender,
                      batch_id: int, rules: Rules, default_shortcode: str, now: datetime,
                      zone: str) -> list[api_sends.NewApiMessage]:
    rows: dict[int, api_sends.NewApiMessage] = {}
    groups: dict[tuple[str, str, str], list[Wanted]] = {}
    for item in wanted:
        shortcode = service.shortcode_of(rules, item.program, item.shortcode, default_shortcode)
        if item.segment is not None:
            broadcast_id = await _broadcast(conn, sender, batch_id, rules=rules, item=item,
                                            shortcode=shortcode, where=item.segment, now=now,
                                            zone=zone)
            rows[item.index] = api_sends.NewApiMessage(item.index, item.program, None,
                                                       item.segment, broadcast_id, None)
        else:
            groups.setdefault((item.program, shortcode, item.text), []).append(item)
    for (program, shortcode, _), items in groups.items():
        numbers = sorted({item.to for item in items if item.to is not None})
        opted = await api_sends.opted_out(conn, shortcode, numbers)
        reach = await api_sends.reachable(conn, shortcode=shortcode, program=program,
                                          numbers=numbers, now=now)
        capped = await frequency.numbers_pushed_past(
            conn, compose_checks.program_of(rules, program), shortcode=shortcode,
            numbers=[n for n in numbers if n in reach], now=now)
        sent_by: dict[str, int] = {}
        eligible = [n for n in numbers if n in reach and n not in capped]
        for start in range(0, len(eligible), NUMBERS_PER_BROADCAST):
            chunk = tuple(eligible[start:start + NUMBERS_PER_BROADCAST])
            broadcast_id = await _broadcast(conn, sender, batch_id, rules=rules, item=items[0],
                                            shortcode=shortcode,
                                            where=format_audience(NumberIn(chunk)), now=now,
                                            zone=zone)
            sent_by.update(dict.fromkeys(chunk, broadcast_id))
        for item in items:
            assert item.to is not None
            refused = ("opted_out" if item.to in opted
                       else "not_subscribed" if item.to not in reach
                       else FREQUENCY_LIMIT if item.to in capped else None)
            rows[item.index] = api_sends.NewApiMessage(item.index, program, item.to, None,
                                                       sent_by.get(item.to), refused)
    return [rows[index] for index in sorted(rows)]


async def _broadcast(conn: asyncpg.Connection, sender: Sender, batch_id: int, *, rules: Rules,
                     item: Wanted, shortcode: str, where: str, now: datetime, zone: str) -> int:
    """One broadcast, created and started (the gateway's tick writes its outbox rows)."""
    broadcast_id = await service.create(
        conn, rules=rules, program=item.program, shortcode=shortcode, where=where,
        text=item.text, created_by=sender.principal.email, now=now, zone=zone)
    await control.start(conn, broadcast_id)
    await audit.record(conn, sender.principal, audit.BROADCAST_STARTED,
                       f"broadcast:{broadcast_id}", client=sender.client, via="send_api",
                       batch_id=batch_id, program=item.program,
                       segment=item.segment is not None)
    return broadcast_id


def _refused(err: Exception) -> ServiceError:
    if isinstance(err, ComposeError):
        return invalid(err.message, field=err.field)
    if isinstance(err, BroadcastTextError):
        return invalid(str(err), field="text")
    if isinstance(err, service.FrequencyExceeded):
        return ServiceError(409, "frequency_limit", str(err))
    return invalid(str(err), field=None)


def status_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """One message's state as the API shows it (store/api_sends.py STATUS)."""
    shown: dict[str, Any] = {
        "id": row["id"], "batch_id": row["batch_id"], "index": row["position"],
        "program": row["program"], "to": row["msisdn"], "segment": row["segment"],
        "broadcast_id": row["broadcast_id"], "status": row["status"], "reason": row["reason"],
        "created_at": row["created_at"]}
    if row["segment"] is not None:
        shown["recipients"] = row["recipients"]
        return shown
    parts = json.loads(row["parts"]) if row["parts"] else []
    receipts = {part["receipt"] for part in parts}
    shown.update({
        "outbox_id": row["outbox_id"], "error": row["last_error"],
        "segments": row["segments"], "submitted_at": row["submitted_at"],
        "final_at": row["final_at"], "parts": parts,
        "receipt": (None if not parts or "submitted" in receipts
                    else "DELIVRD" if receipts == {"DELIVRD"}
                    else next(iter(sorted(receipts - {"DELIVRD"}))))})
    return shown
