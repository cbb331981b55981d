"""The expert inbox page: queues per theme, a question beside its contact's timeline (and its
e-mail conversation), the answer form with its SMS segment count (none by e-mail), and the
response time per theme.

Why these handlers only call the inbox service (gateway/services/inbox.py):
the page and the API must fence experts by theme, audit views and claims,
refuse the second claimer and bound an answer's cost identically; one
implementation, which both call, makes that true by construction. The page
adds HTML, redirects after a post, and shows a refused answer again with its
text and the reason beside the field.

The segment count is computed here (`smstext.segment_count`, the sender's
own rule) for every render; /static/inbox.js only updates it while typing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from babel.numbers import format_decimal

from gateway.plain_words import N_, said
from gateway.services import inbox as service
from gateway.services.answers import MAX_EMAIL_ANSWER_CHARS, answer_segments
from gateway.services.digest_choice import digest_choice, set_digest_choice
from gateway.services.errors import ServiceError, invalid
from gateway.voice.audio import CONTENT_TYPES
from gateway.web import access
from gateway.web.context import inbox_for
from gateway.web.locale import Viewer
from gateway.web.pages.contacts import contact_path
from gateway.web.pages.frame import PageTable, View
from gateway.web.ranged import ranged_response, starts_at_zero

pages = PageTable()

NOTICES = {"released": N_("The question is back in its queue."),
           "claimed": N_("You claimed this question; answer it below."),
           "sent": N_("Answer queued: it goes out by SMS from the short code."),
           "digest_on": N_("You will get the e-mail digest of new questions in your themes."),
           "digest_off": N_("You will not get the e-mail digest any more."),
           "mailed": N_("Answer queued: it goes out by e-mail, in the citizen's conversation.")}


ENGLISH = Viewer()
# A time span's units, largest first (the English is the catalog's key).
UNITS = ((86400, N_("%(n)s d")), (3600, N_("%(n)s h")), (60, N_("%(n)s min")))


def duration(seconds: float | None, *, none: str = "—", viewer: Viewer = ENGLISH) -> str:
    """A time span as people read it: 45 s, 12 min, 3.5 h, 2 d (3,5 h in French)."""
    if seconds is None:
        return none
    for size, unit in UNITS:
        if seconds >= size:
            shown = format_decimal(round(seconds / size, 1), locale=viewer.locale)
            return viewer.gettext(unit, n=shown)
    return viewer.gettext(N_("%(n)s s"), n=round(seconds))


def _question_id(view: View) -> int:
    return int(view.request.match_info["question_id"])


@pages.get("/inbox", name="page.inbox")
async def inbox(view: View) -> web.StreamResponse:
    inbox, user = inbox_for(view.context), view.user
    queues = await service.list_queues(inbox, user, view.client)
    closed = await service.closed_questions(inbox, user, view.client, days=30)
    times = await service.response_time_rows(inbox, user, days=30)
    viewer = view.viewer
    language = viewer.language
    shown = [{**q, "name": service.theme_names(inbox.rules(), [q["theme"]], language)[0],
              "sla_text": duration(q["sla_seconds"], viewer=viewer,
                                   none=viewer.gettext(N_("program default")))}
             for q in queues["queues"]]
    rows = [{**t, "name": service.theme_names(inbox.rules(), [t["theme"]], language)[0],
             "sla_text": duration(t["sla_seconds"], viewer=viewer,
                                  none=viewer.gettext(N_("default"))),
             "median_text": duration(t["median_seconds"], viewer=viewer),
             "p90_text": duration(t["p90_seconds"], viewer=viewer)}
            for t in times["themes"]]
    digest_on = await digest_choice(inbox.pool, user) if user.role == "expert" else None
    themes = service.theme_names(inbox.rules(), user.themes, language)
    return view.render("inbox.html", title=N_("Expert inbox"), queues=shown, closed=closed,
                       times=rows, notice=NOTICES.get(view.query("notice")),
                       themes=themes, role=user.role, digest_on=digest_on)


@pages.post("/inbox/digest", name="page.inbox.digest")
async def digest(view: View) -> web.StreamResponse:
    """The expert's own digest switch (the form beside their themes)."""
    inbox = inbox_for(view.context)
    on = await set_digest_choice(inbox.pool, view.user, view.client, view.field("on") == "1",
                                 now=inbox.clock())
    return view.redirect("/inbox", notice="digest_on" if on else "digest_off")


async def _question_page(view: View, *, draft: str = "", error: ServiceError | None = None,
                         status: int = 200, **extra: Any) -> web.Response:
    """`extra`: more template values (the knowledge-base search, pages/inbox_knowledge.py)."""
    detail = await service.question_detail(inbox_for(view.context), view.user, view.client,
                                           _question_id(view))
    wrap = detail["answer_text"]
    segments = answer_segments((wrap["before"], wrap["after"]), draft)
    q = detail["question"]
    return view.render(
        "inbox_question.html", status=status,
        title=view.viewer.gettext(N_("Question %(id)s (%(theme)s)"), id=q["id"],
                                  theme=q["theme_name"]),
        detail=detail, q=q, draft=draft, error=error, segments=segments,
        max_chars=detail["answer_max_chars"], contact_link=_contact_link(view, q),
        notice=NOTICES.get(view.query("notice")), **extra)


def _contact_link(view: View, q: dict[str, Any]) -> str | None:
    """The asker's contact page (its e-mail address's, else its number's), for a role that
    may open it: an admin, not an expert (who sees the address masked)."""
    address = q["email"] or q["msisdn"]
    page = "page.contact_email" if q["email"] else "page.contact"
    if address is None or not access.allows(access.rule_for(page), view.user.role):
        return None
    return contact_path(address)


@pages.get("/inbox/questions/{question_id}", name="page.inbox.question")
async def question(view: View) -> web.StreamResponse:
    return await _question_page(view)


@pages.get("/inbox/questions/{question_id}/recording", name="page.inbox.recording")
async def recording(view: View) -> web.StreamResponse:
    """The recorded question's audio for the page's <audio> player, with ranges (seeking)."""
    data, fmt = await service.question_recording(
        inbox_for(view.context), view.user, view.client, _question_id(view),
        audited=starts_at_zero(view.request))
    return ranged_response(view.request, data, CONTENT_TYPES[fmt])


@pages.post("/inbox/questions/{question_id}/claim", name="page.inbox.claim")
async def claim(view: View) -> web.StreamResponse:
    question_id = _question_id(view)
    await service.claim_question(inbox_for(view.context), view.user, view.client, question_id)
    return view.redirect(f"/inbox/questions/{question_id}", notice="claimed")


@pages.post("/inbox/questions/{question_id}/release", name="page.inbox.release")
async def release(view: View) -> web.StreamResponse:
    await service.release_question(inbox_for(view.context), view.user, view.client,
                                   _question_id(view))
    return view.redirect("/inbox", notice="released")


@pages.post("/inbox/questions/{question_id}/answer", name="page.inbox.answer")
async def answer(view: View) -> web.StreamResponse:
    question_id = _question_id(view)
    raw: Any = view.form.get("text")
    text = raw if isinstance(raw, str) else ""
    if len(text) > MAX_EMAIL_ANSWER_CHARS:  # the service bounds each channel's own
        return await _question_page(view, draft=text, status=400, error=invalid(
            said(N_("at most %(max_email_answer_chars)s characters"),
                 max_email_answer_chars=MAX_EMAIL_ANSWER_CHARS), field="text", code="too_long"))
    by = view.form.get("by")
    try:
        sent = await service.answer_question(inbox_for(view.context), view.user, view.client,
                                             question_id, text,
                                             "email" if by == "email" else None)
    except ServiceError as err:
        if err.field not in ("text", "by"):
            raise
        return await _question_page(view, draft=text, error=err, status=err.status)
    notice = "mailed" if sent["channel"] == "email" else "sent"
    return view.redirect(f"/inbox/questions/{question_id}", notice=notice)
