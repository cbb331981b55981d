"""The send API over HTTP: POST /api/v1/messages, and each message's status by GET.

The rules (numbers, segments, the Idempotency-Key, why each message is a
broadcast underneath) are gateway/services/send_api.py's; this module reads
the body and the header and shapes the JSON. docs/send-api.md is the guide.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import Field, model_validator

from gateway.broadcast import send_time
from gateway.services import send_api
from gateway.services.send_api import MessageFields
from gateway.store import api_sends
from gateway.web.body import Strict
from gateway.web.context import rules_in_force
from gateway.web.errors import bad_request, not_found
from gateway.web.registry import Call, RouteTable, dumps

routes = RouteTable("messages")

IDEMPOTENCY_HEADER = "Idempotency-Key"
HARD_LIMIT = 10_000  # the most GATEWAY_SEND_API_BATCH_LIMIT may be; the setting decides

SEND_RULES = (
    "One message (`program`, `text`, and `to` or `segment`) or a batch (`messages`: a list "
    "of them, at most GATEWAY_SEND_API_BATCH_LIMIT). `to`: a number (E.164 best); "
    "`segment`: a filter of the program's subscribers in the broadcasts' audience language "
    "(\"\" for all). Only the program's subscribers are sent to: an opted-out or "
    "unsubscribed number is answered `suppressed` with its `reason`. Send an "
    "`Idempotency-Key` header to retry safely: the same key and body within "
    "GATEWAY_SEND_API_IDEMPOTENCY_HOURS get the first answer again (header "
    "`Idempotent-Replayed: true`), the same key with another body a 422.")


class OneMessage(Strict):
    program: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2_000,
                      description="template with {field|fallback} placeholders")
    to: str | None = Field(None, min_length=1, max_length=32, description="a phone number")
    segment: str | None = Field(None, max_length=10_000,
                                description="audience filter of the program's subscribers")
    shortcode: str | None = Field(None, max_length=16)

    def fields(self) -> MessageFields:
        return MessageFields(self.program, self.text, self.to, self.segment, self.shortcode)


class SendRequest(Strict):
    """Either one message's fields, or `messages`."""

    messages: list[OneMessage] | None = Field(None, max_length=HARD_LIMIT)
    program: str | None = Field(None, min_length=1, max_length=64)
    text: str | None = Field(None, min_length=1, max_length=2_000)
    to: str | None = Field(None, min_length=1, max_length=32)
    segment: str | None = Field(None, max_length=10_000)
    shortcode: str | None = Field(None, max_length=16)

    @model_validator(mode="after")
    def _one_shape(self) -> SendRequest:
        single = [n for n in ("program", "text", "to", "segment", "shortcode")
                  if getattr(self, n) is not None]
        if self.messages is not None and single:
            raise ValueError(f"give `messages` or one message's fields, not both ({single[0]})")
        if self.messages is None and (self.program is None or self.text is None):
            raise ValueError("give `program` and `text` (and `to` or `segment`), or `messages`")
        return self

    def as_messages(self) -> list[MessageFields]:
        if self.messages is not None:
            return [m.fields() for m in self.messages]
        assert self.program is not None and self.text is not None
        return [MessageFields(self.program, self.text, self.to, self.segment, self.shortcode)]


class MessagesQuery(Strict):
    batch_id: int | None = Field(None, ge=1)
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)


@routes.post("/api/v1/messages", name="messages.send", body=SendRequest, status=201,
             summary="Send one text or a batch, to numbers or a segment of a program",
             description=SEND_RULES, errors=(409, 422),
             headers=((IDEMPOTENCY_HEADER, "any unique string (a UUID): the same key and "
                       "body within 24 h get the first answer again"),))
async def send(call: Call) -> web.StreamResponse:
    body = call.body_as(SendRequest)
    settings = call.context.settings
    wanted = send_api.check_messages(body.as_messages(), limit=settings.send_api_batch_limit,
                                     region=settings.default_region,
                                     batch=body.messages is not None)
    principal = call.user
    sender = send_api.Sender(principal, principal.token_id, call.client)
    async with call.pool.acquire() as conn, conn.transaction():
        outcome = await send_api.send(
            conn, wanted, sender=sender, key=call.request.headers.get(IDEMPOTENCY_HEADER),
            fingerprint=send_api.request_hash(body.model_dump(mode="json")),
            rules=rules_in_force(call.context), default_shortcode=settings.shortcode,
            now=call.context.clock(), zone=send_time.organizer_zone(settings),
            remember=timedelta(hours=settings.send_api_idempotency_hours))
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return web.json_response(outcome.response, status=outcome.status, dumps=dumps,
                             headers=headers)


@routes.get("/api/v1/messages/{message_id}", name="messages.get",
            summary="One sent message: status, reason, delivery receipt")
async def get(call: Call) -> dict[str, Any]:
    message_id = call.path_int("message_id")
    async with call.pool.acquire() as conn:
        row = await api_sends.status_of(conn, message_id)
    if row is None:
        raise not_found(f"message {message_id}")
    return send_api.status_json(row)


@routes.get("/api/v1/messages", name="messages.list", query=MessagesQuery,
            summary="The messages of one batch, by its id or by the Idempotency-Key that made it")
async def list_messages(call: Call) -> dict[str, Any]:
    query = call.query_as(MessagesQuery)
    if (query.batch_id is None) == (query.idempotency_key is None):
        raise bad_request("give batch_id or idempotency_key", field="batch_id")
    async with call.pool.acquire() as conn:
        batch_id = query.batch_id
        if query.idempotency_key is not None:  # keys are per user, as they were sent
            batch_id = await api_sends.batch_of_key(conn, call.user.user_id,
                                                    query.idempotency_key)
        rows = [] if batch_id is None else await api_sends.statuses_of_batch(conn, batch_id)
    if not rows:
        raise not_found("batch")
    return {"batch_id": batch_id, "messages": [send_api.status_json(r) for r in rows]}
