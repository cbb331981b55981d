"""The expert inbox API: queues by theme, a question beside its contact's timeline, claim,
release, answer, and the response time per theme.

The work, its theme fence, its audit rows and its refusals are
gateway/services/inbox.py, which the inbox pages call too; each route here
reads its request, calls the service and answers with what it returns.

Why organizers are not in the inbox (ACCESS `INBOX`): answering is the
experts' job, fenced by their themes; an organizer answering would bypass
that fence, and the campaign staff already read a contact's whole history on
the contact page. They do see the response times (`inbox.response_times`):
counts per theme, no personal data, what they need to staff the themes.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field

from gateway.services import inbox as service
from gateway.services.answers import MAX_EMAIL_ANSWER_CHARS
from gateway.services.digest_choice import digest_choice, set_digest_choice
from gateway.web.body import Strict
from gateway.web.context import inbox_for
from gateway.web.registry import Call, RouteTable

routes = RouteTable("inbox")

THEME_ID: Final = r"^[a-z0-9_-]{1,64}$"
Status = Literal["waiting", "open", "claimed", "escalated", "answered", "closed"]


class QueueQuery(Strict):
    theme: str | None = Field(None, pattern=THEME_ID, description="one theme (default: yours)")
    program: str | None = Field(None, max_length=64)
    status: Status = "waiting"
    limit: int = Field(200, ge=1, le=1000)


class AnswerBody(Strict):
    text: str = Field(min_length=1, max_length=MAX_EMAIL_ANSWER_CHARS,
                      description="the answer; the theme's answer text wraps it")
    by: Literal["sms", "email"] | None = Field(None, description=(
        "how it goes; default: by e-mail to a written question, by SMS to an SMS one. "
        "`email` to an SMS question goes to the number's verified address (400 when it "
        "has none)"))


class DigestBody(Strict):
    on: bool = Field(description="true: mail me the digest of new questions in my themes")


class ResponseTimesQuery(Strict):
    days: int = Field(30, ge=1, le=3660, description="questions asked in the last N days")
    program: str | None = Field(None, max_length=64)


@routes.get("/api/v1/inbox/queues", name="inbox.queues", query=QueueQuery,
            summary="My queues: waiting questions per theme, most urgent first, with overdue")
async def queues(call: Call) -> dict[str, Any]:
    query = call.query_as(QueueQuery)
    return await service.list_queues(
        inbox_for(call.context), call.user, call.client, theme=query.theme,
        program=query.program, status=query.status, limit=query.limit)


@routes.get("/api/v1/inbox/questions/{question_id}", name="inbox.question",
            summary="One question with the contact's whole timeline (audited as a view)")
async def question(call: Call) -> dict[str, Any]:
    return await service.question_detail(
        inbox_for(call.context), call.user, call.client, call.path_int("question_id"))


@routes.post("/api/v1/inbox/questions/{question_id}/claim", name="inbox.claim",
             summary="Claim a question (409 naming the holder when someone was first)")
async def claim(call: Call) -> dict[str, Any]:
    return await service.claim_question(
        inbox_for(call.context), call.user, call.client, call.path_int("question_id"))


@routes.post("/api/v1/inbox/questions/{question_id}/release", name="inbox.release",
             summary="Give a question you claimed back to its queue")
async def release(call: Call) -> dict[str, Any]:
    return await service.release_question(
        inbox_for(call.context), call.user, call.client, call.path_int("question_id"))


@routes.post("/api/v1/inbox/questions/{question_id}/answer", name="inbox.answer",
             body=AnswerBody,
             summary="Answer a question: by e-mail to a question with an address, "
                     "else an SMS from the short code",
             description="An open question is claimed and answered at once. 400 (field "
                         "text) when the wrapped answer needs more SMS segments than "
                         "GATEWAY_QUESTIONS_ANSWER_MAX_SEGMENTS (or, by e-mail, more than "
                         "20,000 characters), or when no From address is configured for an "
                         "e-mail answer; 409 when another expert holds or answered it.")
async def answer(call: Call) -> dict[str, Any]:
    return await service.answer_question(
        inbox_for(call.context), call.user, call.client, call.path_int("question_id"),
        call.body_as(AnswerBody).text, call.body_as(AnswerBody).by)


@routes.get("/api/v1/inbox/response-times", name="inbox.response_times",
            query=ResponseTimesQuery,
            summary="Response time per theme: answered, waiting, overdue, median, p90")
async def response_times(call: Call) -> dict[str, Any]:
    query = call.query_as(ResponseTimesQuery)
    return await service.response_time_rows(
        inbox_for(call.context), call.user, days=query.days, program=query.program)


@routes.get("/api/v1/inbox/digest", name="inbox.digest",
            summary="Whether I get the e-mail digest of new questions in my themes")
async def digest(call: Call) -> dict[str, Any]:
    return {"on": await digest_choice(call.pool, call.user)}


@routes.patch("/api/v1/inbox/digest", name="inbox.digest.set", body=DigestBody,
              summary="Turn my e-mail digest of new questions on or off",
              description="Digests go to experts, at GATEWAY_NOTIFY_DIGEST_MINUTES "
                          "intervals; the change is audited as user.updated.")
async def set_digest(call: Call) -> dict[str, Any]:
    on = await set_digest_choice(call.pool, call.user, call.client,
                                 call.body_as(DigestBody).on, now=call.context.clock())
    return {"on": on}
