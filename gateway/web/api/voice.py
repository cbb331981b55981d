"""The voice line's API: the candidate's message (versions, publication), calls per day, and
the organizers' report (gateway/voice/report.py, the numbers of the /voice-line/report page).

Why a message travels as `text` (to be spoken) or `content_base64` (a WAV or
MP3 file) in a JSON body: the API reads JSON through one validated reader
(web/body.py), as the knowledge base's does. The request limit for this one
route is GATEWAY_VOICE_MESSAGE_MAX_BYTES, not the web app's 1 MiB
(web/upload_limits.py). Publishing is audit-logged by the service.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import Field, model_validator

from gateway.web.body import Strict
from gateway.web.errors import bad_request
from gateway.web.registry import Call, RouteTable
from gateway.web.voice_publish import (
    daily_calls,
    program_of,
    publish_message,
    report_of,
    versions,
)

routes = RouteTable("voice")
PROGRAM = r"^[a-z0-9_-]{1,64}$"


class MessageBody(Strict):
    program: str | None = Field(None, pattern=PROGRAM,
                                description="a program of keywords.yaml; default: the line's")
    text: str | None = Field(None, min_length=1, max_length=4000,
                             description="the message, spoken by the provider's voice")
    content_base64: str | None = Field(None, description="a WAV or MP3 file's bytes, base64")
    filename: str | None = Field(None, max_length=255)
    note: str = Field("", max_length=500, description="what this version is")

    @model_validator(mode="after")
    def _one_kind(self) -> MessageBody:
        if (self.text is None) == (self.content_base64 is None):
            raise ValueError("send either text or content_base64")
        return self


class ListQuery(Strict):
    program: str | None = Field(None, pattern=PROGRAM)
    limit: int = Field(200, ge=1, le=1000)


class DailyQuery(Strict):
    program: str | None = Field(None, pattern=PROGRAM)
    days: int = Field(30, ge=1, le=3660)


@routes.get("/api/v1/voice/messages", name="voice.messages.list", query=ListQuery,
            summary="The candidate's message: every version, newest first, `current` marked")
async def list_messages(call: Call) -> dict[str, Any]:
    query = call.query_as(ListQuery)
    return {"messages": await versions(call.context, query.program, query.limit)}


@routes.post("/api/v1/voice/messages", name="voice.messages.publish", body=MessageBody,
             status=201, summary="Publish a new version (a text or a WAV/MP3 file); callers "
                                 "hear it from now on, the older ones are kept",
             description="400 naming the field: an unknown program, a file that is not WAV or "
                         "MP3 or is over GATEWAY_VOICE_MESSAGE_MAX_BYTES, an empty text.")
async def publish(call: Call) -> dict[str, Any]:
    body = call.body_as(MessageBody)
    audio = None
    if body.content_base64 is not None:
        try:
            audio = base64.b64decode(body.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("content_base64 is not base64", field="content_base64") from None
    return await publish_message(call.context, call.user, call.client, body.program,
                                 text=body.text, audio=audio, filename=body.filename,
                                 note=body.note, file_field="content_base64")


@routes.get("/api/v1/voice/calls/daily", name="voice.calls.daily", query=DailyQuery,
            summary="Calls per day and how many reached each branch or hung up first")
async def calls_daily(call: Call) -> dict[str, Any]:
    query = call.query_as(DailyQuery)
    program = program_of(call.context, query.program)
    return {"program": program, "days": await daily_calls(call.context, program, query.days)}


class ReportQuery(Strict):
    program: str | None = Field(None, pattern=PROGRAM)
    days: int = Field(14, ge=1, le=366, description="days back from today, today included")


@routes.get("/api/v1/voice/report", name="voice.report", query=ReportQuery,
            summary="The voice line's report: calls per day (organization's time zone), calls "
                    "per branch, abandon rate, questions by voice per theme",
            description="No personal data: counts only. `abandon_rate` is abandoned over "
                        "ended calls (null before any call ended); a call is abandoned when it "
                        "ended before reaching a branch's end (docs/voice.md, Reports).")
async def report(call: Call) -> dict[str, Any]:
    query = call.query_as(ReportQuery)
    program = program_of(call.context, query.program)
    return (await report_of(call.context, program, query.days)).as_json()
