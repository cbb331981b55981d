"""The voice line for organizers: where to point the provider, the candidate's message (play
every version, publish a new one as an audio file or a text), and the calls per day.

Why the page publishes through the API's function (`gateway.web.voice_publish`): a
version published here and one sent by a script get the same checks (the file's format
by its bytes, its size) and the same audit entry. A refused publication is shown again
with the reason beside the field (a file must be chosen again: browsers never refill a
file input). The file comes as multipart form data, up to GATEWAY_VOICE_MESSAGE_MAX_BYTES
(web/upload_limits.py).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from babel.dates import format_skeleton

from gateway.plain_words import N_
from gateway.web.choices import program_names
from gateway.web.context import rules_in_force
from gateway.web.errors import ApiError, bad_request
from gateway.web.pages.charts import bar_chart
from gateway.web.pages.frame import PageTable, View
from gateway.web.voice_publish import (
    daily_calls,
    program_of,
    publish_message,
    report_of,
    versions,
)

pages = PageTable()
DAYS: Final = 30
NOTICES: Final = {"published": N_("The new version is the one callers hear now; the older "
                                  "ones are kept.")}


@pages.get("/voice-line", name="page.voice")
async def voice_line(view: View) -> web.StreamResponse:
    return await _show(view)


@pages.get("/voice-line/report", name="page.voice.report")
async def voice_report(view: View) -> web.StreamResponse:
    """Calls per day and per branch, the abandon rate, questions by voice per theme."""
    program = program_of(view.context, None)
    report = await report_of(view.context, program)
    zone = view.context.settings.organization_timezone
    _ = view.viewer.gettext
    chart = bar_chart(
        [format_skeleton("Md", day.day, locale=view.viewer.locale) for day in report.days],
        {_("Calls"): [day.calls for day in report.days],
         _("Abandoned"): [day.abandoned for day in report.days]},
        title=_("Calls per day, last %(days)s days", days=len(report.days)),
        description=_("Calls to the voice line and abandoned calls per day (%(zone)s), "
                      "oldest on the left.", zone=zone), label_every=2)
    return view.render("voice_report.html", title=N_("Voice line report"), report=report,
                       chart=chart, zone=zone,
                       program_name=program_names(rules_in_force(view.context)).get(
                           report.program, report.program))


@pages.post("/voice-line/messages", name="page.voice.publish")
async def publish(view: View) -> web.StreamResponse:
    typed = {name: view.field(name) for name in ("program", "kind", "text", "note")}
    upload: Any = view.form.get("file")
    try:
        if typed["kind"] == "text":
            await publish_message(view.context, view.user, view.client, typed["program"] or None,
                                  text=typed["text"], note=typed["note"])
        elif not isinstance(upload, web.FileField) or not upload.filename:
            raise bad_request(view.viewer.gettext("choose a WAV or MP3 file to upload"),
                              field="file")
        else:
            await publish_message(view.context, view.user, view.client,
                                  typed["program"] or None, audio=upload.file.read(),
                                  filename=upload.filename, note=typed["note"])
    except ApiError as err:
        if err.status != 400:
            raise
        return await _show(view, status=400, form=typed, errors={err.field or "form": err.message})
    finally:
        for value in view.form.values():  # the uploaded file's spool, read or not
            if isinstance(value, web.FileField):
                value.file.close()
    return view.redirect("/voice-line", notice="published")


async def _show(view: View, *, status: int = 200, form: dict[str, str] | None = None,
                errors: dict[str, str] | None = None) -> web.Response:
    settings = view.context.settings
    program = program_of(view.context, None)
    rules = rules_in_force(view.context)
    return view.render(
        "voice.html", status=status, title=N_("Voice line"), settings=settings,
        program=program,
        programs=sorted(rules.programs), versions=await versions(view.context, None),
        days=await daily_calls(view.context, program, DAYS), period=DAYS,
        links={name: settings.voice_url(f"/{name}") for name in ("incoming", "status")},
        form=form or {"program": program, "kind": "audio"}, errors=errors or {},
        notice=NOTICES.get(view.query("notice")))
