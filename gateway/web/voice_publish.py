"""The candidate's message, shared by the API (web/api/voice.py) and the organizers' page
(web/pages/voice.py): one program check, one publication through the service
(gateway/voice/messages.py, which checks the file and writes the audit entry), one mapping
of its refusals to 400s naming the field. Why here: pages never call the API's modules
(docs/architecture.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from gateway.plain_words import N_, said
from gateway.store import calls as calls_store
from gateway.store import voice_messages as store
from gateway.voice.messages import MessageRefused, Published, Publisher, publish
from gateway.voice.report import DAYS, VoiceReport, voice_report
from gateway.voice.steps import line_program
from gateway.web.auth import Principal
from gateway.web.context import WebContext, rules_in_force
from gateway.web.errors import bad_request

MESSAGE_FIELDS: Final = ("id", "program", "version", "kind", "spoken_text", "audio_format",
                         "audio_bytes", "audio_sha256", "source_name", "note", "published_by",
                         "published_at")
STAT_FIELDS: Final = ("calls", "message", "support", "question", "donation_link",
                      "sms_opt_in", "recorded", "abandoned")


def program_of(context: WebContext, program: str | None) -> str:
    """The program named (it must be in the keywords file), else the line's own."""
    rules = rules_in_force(context)
    if program is None:
        return line_program(context.settings, rules)
    if program not in rules.programs:
        raise bad_request(said(N_("unknown program %(program)r; the keywords file has "
                                  "%(programs)s"),
                               program=program, programs=', '.join(sorted(rules.programs))),
                          field="program")
    return program


async def publish_message(context: WebContext, principal: Principal, client: str,
                          program: str | None, *, text: str | None = None,
                          audio: bytes | None = None, filename: str | None = None,
                          note: str = "", file_field: str = "file") -> dict[str, Any]:
    chosen = program_of(context, program)
    try:
        published = await publish(
            context.pool, Publisher(principal.user_id, principal.email, client), chosen,
            now=context.clock(), text=text, audio=audio, filename=filename, note=note,
            max_bytes=context.settings.voice_message_max_bytes)
    except MessageRefused as err:
        raise bad_request(str(err), field=file_field if err.field == "file" else err.field,
                          code="refused") from None
    return published_json(published, context)


def published_json(published: Published, context: WebContext) -> dict[str, Any]:
    url = (context.settings.voice_url(f"/audio/{published.id}.{published.audio_format}")
           if published.audio_format else None)
    return {"id": published.id, "program": published.program, "version": published.version,
            "kind": published.kind, "audio_format": published.audio_format,
            "audio_bytes": published.audio_bytes, "audio_url": url}


async def versions(context: WebContext, program: str | None, limit: int = 200
                   ) -> list[dict[str, Any]]:
    """Versions newest first (per program), without their audio; `current` marks the heard one."""
    async with context.pool.acquire() as conn:
        rows = await store.list_versions(conn, program, limit=limit)
    seen: set[str] = set()
    shown = []
    for row in rows:
        item = {name: row[name] for name in MESSAGE_FIELDS}
        item["current"] = row["program"] not in seen
        seen.add(row["program"])
        shown.append(item)
    return shown


async def daily_calls(context: WebContext, program: str, days: int) -> list[dict[str, Any]]:
    """Calls per day (the organization's time zone) and where they went; no personal data."""
    since = context.clock() - timedelta(days=days)
    async with context.pool.acquire() as conn:
        rows = await calls_store.daily(conn, program, since, context.settings.organization_timezone)
    return [{"day": row["day"], **{name: row[name] for name in STAT_FIELDS}} for row in rows]


async def report_of(context: WebContext, program: str, days: int = DAYS) -> VoiceReport:
    """The organizers' report (gateway/voice/report.py) in the organization's time zone."""
    return await voice_report(context.pool, rules_in_force(context), program,
                              now=context.clock(), zone=context.settings.finance_timezone,
                              days=days)


def now_of(context: WebContext) -> datetime:
    return context.clock()
