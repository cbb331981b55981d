"""The expert inbox API: queues by theme, a question beside its contact's timeline, claim,
release, answer, and the response time per theme.

Why experts are fenced by theme on every item (`access.require_theme`), not
only on the list: about 200 volunteers answer, each for a few themes, and a
question's text can reveal an opinion, so an id typed by hand must not open a
question of another theme. Admins see every theme.

Why organizers are not in the inbox (ACCESS `INBOX`): answering is the
experts' job, fenced by their themes; an organizer answering would bypass
that fence, and the campaign staff already read a contact's whole history on
the contact page. They do see the response times (`inbox.response_times`):
counts per theme, no personal data, what they need to staff the themes.

Viewing a question shows the contact's history beside it. An expert sees
only the threads of the contact's questions in their own themes (the
question, its acknowledgement, the answer, claims), never another theme,
the profile, donations or donor details; an admin sees the whole timeline
(web/fences.py has the matrix). The view is audited as `contact.viewed`,
like the contact page; listing the queues too (numbers and question texts). Claims, releases and
answers are audited in the same transaction as the change. Experts see a
masked number: the answer goes out from the short code, they never need it.

Claims race safely in the store (`questions.claim`, one conditional
UPDATE): the loser gets 409 naming who holds the question. The functions
below take the context and the principal, so the pages (pages/inbox.py)
run exactly the same checks, audit rows and errors as the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal

import asyncpg
from pydantic import Field

from gateway.engine import Rules
from gateway.engine.loader import RulesError, load_rules
from gateway.logs import get_logger, mask_msisdn
from gateway.pipeline import contact_centre
from gateway.smstext import segment_count
from gateway.store import contacts, timeline
from gateway.store import questions as questions_store
from gateway.store.questions import WAITING, AnswerTooLong
from gateway.web import audit
from gateway.web.access import may_see_theme, require_theme
from gateway.web.auth import Principal
from gateway.web.body import Strict
from gateway.web.context import WebContext
from gateway.web.errors import ApiError, bad_request, conflict, not_found
from gateway.web.fences import fenced_timeline
from gateway.web.registry import Call, RouteTable

log = get_logger("gateway.web.inbox")
routes = RouteTable("inbox")

MAX_ANSWER_CHARS: Final = 1600  # the segment limit is the real bound; this one stops abuse
THEME_ID: Final = r"^[a-z0-9_-]{1,64}$"
Status = Literal["waiting", "open", "claimed", "escalated", "answered"]
STATUSES: Final[dict[str, tuple[str, ...]]] = {
    "waiting": WAITING, "open": ("open",), "claimed": ("claimed",),
    "escalated": ("escalated",), "answered": ("answered",),
}
_SPLIT: Final = "\x00"  # stands in for the answer when the theme's wrapper is rendered


class QueueQuery(Strict):
    theme: str | None = Field(None, pattern=THEME_ID, description="one theme (default: yours)")
    program: str | None = Field(None, max_length=64)
    status: Status = "waiting"
    limit: int = Field(200, ge=1, le=1000)


class AnswerBody(Strict):
    text: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS,
                      description="the answer; the theme's answer text wraps it")


class ResponseTimesQuery(Strict):
    days: int = Field(30, ge=1, le=3660, description="questions asked in the last N days")
    program: str | None = Field(None, max_length=64)


@dataclass(frozen=True, slots=True)
class ThemeInfo:
    id: str
    name: str
    sla_seconds: int | None  # None: the program's default (the fallback theme)
    leads: tuple[str, ...]


_FILE_RULES: dict[Path, tuple[int, Rules]] = {}


def rules_in_force(context: WebContext) -> Rules:
    """The running gateway's rules; outside a gateway, the keywords file (re-read on change)."""
    if context.rules is not None:
        return context.rules()
    path = context.settings.keywords
    try:
        stamp = path.stat().st_mtime_ns
        cached = _FILE_RULES.get(path)
        if cached is None or cached[0] != stamp:
            cached = _FILE_RULES[path] = (stamp, load_rules(path))
    except (OSError, RulesError) as err:
        raise ApiError(503, "rules_unavailable",
                       f"cannot read the keywords file {path.name}: {err}") from None
    return cached[1]


def theme_catalog(rules: Rules) -> dict[str, ThemeInfo]:
    """Every theme of every program, in menu order; the fallback (`general`) last."""
    catalog: dict[str, ThemeInfo] = {}
    for themes in rules.themes.values():
        for tid, topic in themes.topics.items():
            catalog.setdefault(tid, ThemeInfo(tid, topic.name, topic.sla, tuple(topic.leads)))
    for themes in rules.themes.values():
        catalog.setdefault(themes.fallback, ThemeInfo(
            themes.fallback, themes.fallback.capitalize(), None, ()))
    return catalog


def shown_number(principal: Principal, msisdn: str) -> str:
    """Experts see the last four digits; staff who may open the contact see it whole."""
    return mask_msisdn(msisdn) if principal.role == "expert" else msisdn


def question_json(principal: Principal, row: asyncpg.Record | dict[str, Any],
                  catalog: dict[str, ThemeInfo]) -> dict[str, Any]:
    item = dict(row)
    item["msisdn"] = shown_number(principal, item["msisdn"])
    info = catalog.get(item["theme"])
    item["theme_name"] = info.name if info else item["theme"]
    if "escalated_to" in item:
        item["escalated_to"] = list(item["escalated_to"] or [])
    return item


def answer_wrapper(rules: Rules, question: asyncpg.Record) -> tuple[str, str]:
    """The theme's answer text before and after {answer}: what the counter adds to a draft."""
    themes = rules.themes.get(question["program"])
    if themes is None:
        return "", ""
    program = rules.programs[question["program"]]
    topic = themes.topics.get(question["theme"])
    wrapped = themes.answer.render({
        **program.variables(question["shortcode"]), "answer": _SPLIT,
        "theme": topic.name if topic else question["theme"]})
    before, _, after = wrapped.partition(_SPLIT)
    return before, after


def answer_segments(wrapper: tuple[str, str], text: str) -> int:
    """SMS segments the answer will cost, wrapped as it goes out (spaces collapsed)."""
    return segment_count(wrapper[0] + " ".join(text.split()) + wrapper[1])


async def visible_question(conn: asyncpg.Connection, principal: Principal,
                           question_id: int) -> asyncpg.Record:
    """The question, or 404; 403 (`theme_forbidden`) for an expert of other themes."""
    row = await questions_store.get_question(conn, question_id)
    if row is None:
        raise not_found(f"question {question_id}")
    require_theme(principal, row["theme"])
    return row


async def list_queues(
    context: WebContext, principal: Principal, client: str, *, theme: str | None = None,
    program: str | None = None, status: str = "waiting", limit: int = 200,
) -> dict[str, Any]:
    """The caller's queues (an expert's themes; every theme for an admin), most urgent first."""
    catalog = theme_catalog(rules_in_force(context))
    if theme is not None:
        require_theme(principal, theme)
        themes: list[str] | None = [theme]
    elif principal.role == "expert":
        themes = list(principal.themes)
    else:
        themes = None
    now = context.clock()
    async with context.pool.acquire() as conn:
        rows = await questions_store.list_queues(
            conn, themes, now=now, program=program, statuses=STATUSES[status], limit=limit)
        await audit.record(conn, principal, audit.CONTACT_VIEWED, None, client=client,
                           view="inbox", themes=themes if themes is not None else "all",
                           status=status, results=len(rows))
    shown = themes if themes is not None else [
        *catalog, *sorted({r["theme"] for r in rows} - set(catalog))]
    queues = []
    for tid in shown:
        info = catalog.get(tid)
        items = [question_json(principal, r, catalog) for r in rows if r["theme"] == tid]
        queues.append({
            "theme": tid, "name": info.name if info else tid,
            "sla_seconds": info.sla_seconds if info else None,
            "count": len(items), "overdue": sum(1 for q in items if q["overdue"]),
            "questions": items})
    return {"now": now, "status": status, "queues": queues}


async def question_detail(
    context: WebContext, principal: Principal, client: str, question_id: int,
) -> dict[str, Any]:
    """One question, the contact's whole timeline and earlier questions; audited as a view."""
    rules = rules_in_force(context)
    catalog = theme_catalog(rules)
    now = context.clock()
    async with context.pool.acquire() as conn:
        row = await visible_question(conn, principal, question_id)
        msisdn, shortcode = row["msisdn"], row["shortcode"]
        contact = await contacts.get_contact(conn, msisdn, shortcode)
        asked = [q for q in await questions_store.list_for_contact(conn, msisdn, shortcode)
                 if may_see_theme(principal, q["theme"])]
        if principal.role == "expert":  # only their themes' threads (web/fences.py)
            items = await timeline.question_threads(conn, msisdn, shortcode,
                                                    [q["id"] for q in asked])
        else:
            items = await timeline.full_timeline(conn, msisdn, shortcode)
        await audit.record(conn, principal, audit.CONTACT_VIEWED, f"contact:{msisdn}",
                           client=client, view="inbox", question_id=question_id)
    question = question_json(principal, row, catalog)
    question["overdue"] = row["status"] != "answered" and row["sla_due"] < now
    mine = next((q for q in asked if q["id"] == question_id), None)
    question["answer"] = mine["answer"] if mine else None
    question["answered_by"] = mine["answered_by"] if mine else None
    before, after = answer_wrapper(rules, row)
    return {
        "question": question,
        "contact": {"msisdn": question["msisdn"],
                    "opted_out": bool(contact["opted_out"]) if contact else None},
        "timeline": fenced_timeline(principal, items),
        "questions": [question_json(principal, q, catalog) for q in asked],
        "answer_text": {"before": before, "after": after,
                        "max_segments": context.settings.questions_answer_max_segments},
        "may_answer": row["status"] != "answered" and row["claimed_by"] in (
            None, principal.email),
    }


async def claim_question(
    context: WebContext, principal: Principal, client: str, question_id: int,
) -> dict[str, Any]:
    """Take the question; 409 naming the holder when another expert was first."""
    async with context.pool.acquire() as conn:
        row = await visible_question(conn, principal, question_id)
        async with conn.transaction():
            result = await questions_store.claim(conn, question_id, principal.email,
                                                 now=context.clock())
            if result.won:
                await audit.record(conn, principal, audit.QUESTION_CLAIMED,
                                   f"question:{question_id}", client=client,
                                   theme=row["theme"])
    if result.outcome == "not_found":
        raise not_found(f"question {question_id}")
    if not result.won:
        when = f" at {result.claimed_at:%Y-%m-%d %H:%M} UTC" if result.claimed_at else ""
        verb = "answered" if result.outcome == "already_answered" else "claimed"
        raise _held(f"question {question_id} was already {verb} by {result.claimed_by}"
                    f"{when}", result.claimed_by, result.outcome)
    return {"question_id": question_id, "status": "claimed", "claimed_by": result.claimed_by,
            "claimed_at": result.claimed_at}


async def release_question(
    context: WebContext, principal: Principal, client: str, question_id: int,
) -> dict[str, Any]:
    """Give a question back to its queue: the expert holding it can, and an admin can
    take it back from an expert who is away (the audit entry names whose claim it was)."""
    async with context.pool.acquire() as conn:
        await visible_question(conn, principal, question_id)
        async with conn.transaction():
            holder: str | None = principal.email
            if principal.role == "admin":
                holder = await questions_store.release_any(conn, question_id)
                released = holder is not None
            else:
                released = await questions_store.release(conn, question_id, principal.email)
            if released:
                await audit.record(conn, principal, audit.QUESTION_RELEASED,
                                   f"question:{question_id}", client=client, holder=holder)
        current = await questions_store.get_question(conn, question_id)
    if not released:
        if current is not None and current["status"] == "claimed":
            raise _held(f"question {question_id} is claimed by {current['claimed_by']}, "
                        "not you; only they can release it", current["claimed_by"], "claimed")
        status = current["status"] if current is not None else "gone"
        raise conflict(f"question {question_id} is not claimed (it is {status})")
    return {"question_id": question_id, "status": current["status"] if current else "open"}


async def answer_question(
    context: WebContext, principal: Principal, client: str, question_id: int, text: str,
) -> dict[str, Any]:
    """Send the answer through the outbox (400 naming `text` when too long or empty)."""
    rules = rules_in_force(context)
    max_segments = context.settings.questions_answer_max_segments
    async with context.pool.acquire() as conn:
        row = await visible_question(conn, principal, question_id)
        try:
            async with conn.transaction():
                result = await contact_centre.answer_question(
                    conn, rules, question_id, expert=principal.email, text=text,
                    now=context.clock(), max_segments=max_segments)
                if result.outcome == "answered":
                    await audit.record(conn, principal, audit.QUESTION_ANSWERED,
                                       f"question:{question_id}", client=client,
                                       theme=row["theme"], outbound_id=result.outbound_id)
        except AnswerTooLong as err:
            raise bad_request(str(err), field="text", code="too_long") from None
        except ValueError as err:  # empty once spaces are removed
            raise bad_request(str(err), field="text") from None
    if result.outcome == "not_found":
        raise not_found(f"question {question_id}")
    if result.outcome != "answered":
        verb = "answered" if result.outcome == "already_answered" else "claimed"
        raise _held(f"question {question_id} was already {verb} by {result.claimed_by}",
                    result.claimed_by, result.outcome)
    if context.wake_outbox is not None:
        context.wake_outbox()  # else the outbox's idle poll sends it within a second
    log.info("question_answered", question_id=question_id, theme=row["theme"],
             outbound_id=result.outbound_id)
    return {"question_id": question_id, "status": "answered", "answered_by": principal.email,
            "outbound_id": result.outbound_id,
            "segments": answer_segments(answer_wrapper(rules, row), text)}


async def response_time_rows(
    context: WebContext, principal: Principal, *, days: int = 30, program: str | None = None,
) -> dict[str, Any]:
    """Per theme the caller may see: asked, answered, waiting, overdue, median and p90."""
    catalog = theme_catalog(rules_in_force(context))
    now = context.clock()
    since = now - timedelta(days=days)
    async with context.pool.acquire() as conn:
        rows = await questions_store.response_times(conn, since=since, now=now, program=program)
    themes = []
    for row in rows:
        if not may_see_theme(principal, row["theme"]):
            continue
        info = catalog.get(row["theme"])
        themes.append({**dict(row), "name": info.name if info else row["theme"],
                       "sla_seconds": info.sla_seconds if info else None})
    return {"since": since, "until": now, "days": days, "themes": themes}


def _held(message: str, holder: str | None, outcome: str) -> ApiError:
    return ApiError(409, outcome, message, extra={"claimed_by": holder})


@routes.get("/api/v1/inbox/queues", name="inbox.queues", query=QueueQuery,
            summary="My queues: waiting questions per theme, most urgent first, with overdue")
async def queues(call: Call) -> dict[str, Any]:
    query = call.query_as(QueueQuery)
    return await list_queues(call.context, call.user, call.client, theme=query.theme,
                             program=query.program, status=query.status, limit=query.limit)


@routes.get("/api/v1/inbox/questions/{question_id}", name="inbox.question",
            summary="One question with the contact's whole timeline (audited as a view)")
async def question(call: Call) -> dict[str, Any]:
    return await question_detail(call.context, call.user, call.client,
                                 call.path_int("question_id"))


@routes.post("/api/v1/inbox/questions/{question_id}/claim", name="inbox.claim",
             summary="Claim a question (409 naming the holder when someone was first)")
async def claim(call: Call) -> dict[str, Any]:
    return await claim_question(call.context, call.user, call.client,
                                call.path_int("question_id"))


@routes.post("/api/v1/inbox/questions/{question_id}/release", name="inbox.release",
             summary="Give a question you claimed back to its queue")
async def release(call: Call) -> dict[str, Any]:
    return await release_question(call.context, call.user, call.client,
                                  call.path_int("question_id"))


@routes.post("/api/v1/inbox/questions/{question_id}/answer", name="inbox.answer",
             body=AnswerBody,
             summary="Answer a question: an SMS from the short code, through the outbox",
             description="An open question is claimed and answered at once. 400 (field "
                         "text) when the wrapped answer needs more SMS segments than "
                         "GATEWAY_QUESTIONS_ANSWER_MAX_SEGMENTS; 409 when another expert "
                         "holds or answered it.")
async def answer(call: Call) -> dict[str, Any]:
    return await answer_question(call.context, call.user, call.client,
                                 call.path_int("question_id"), call.body_as(AnswerBody).text)


@routes.get("/api/v1/inbox/response-times", name="inbox.response_times",
            query=ResponseTimesQuery,
            summary="Response time per theme: answered, waiting, overdue, median, p90")
async def response_times(call: Call) -> dict[str, Any]:
    query = call.query_as(ResponseTimesQuery)
    return await response_time_rows(call.context, call.user, days=query.days,
                                    program=query.program)
