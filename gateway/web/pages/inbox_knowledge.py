"""The knowledge base in the expert's answer form: search, then insert a passage or a link.

Why a POST of the whole answer form rather than a separate search page:
the search box and its buttons sit inside the answer form (HTML forms do
not nest), so each button posts the draft with it (`formaction`), and the
question page comes back with the draft kept, the results below it, and
the chosen passage or link appended. That works without JavaScript;
/static/knowledge.js only inserts in place, at the cursor, without the
round trip. The question is opened through the inbox's own function, so
the expert's theme fence, the 404 and the audit of the view are the
inbox's (web/api/inbox.py).

By default the search covers the question's program and theme (and the
documents filed for every theme); "every theme" widens it to the program.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from gateway.knowledge import service
from gateway.plain_words import N_
from gateway.services import inbox as inbox_service
from gateway.store import knowledge_docs as store
from gateway.web.pages import inbox as inbox_pages
from gateway.web.pages.frame import PageTable, View

pages = PageTable()
MAX_HITS: Final = 8
# What the page says once a passage or its link is in the draft (values: the document).
INSERTED: Final = {
    "insert": N_("Inserted the passage from “%(title)s” (version %(version)s); edit it to fit "
                 "your answer."),
    "insert_link": N_("Inserted the link from “%(title)s” (version %(version)s); edit it to "
                      "fit your answer."),
}


@pages.post("/inbox/questions/{question_id}/knowledge", name="page.inbox.knowledge")
async def search_for_answer(view: View) -> web.StreamResponse:
    question_id = int(view.request.match_info["question_id"])
    raw: Any = view.form.get("text")
    draft = raw if isinstance(raw, str) else ""
    words = view.field("kb_q")[:200]
    everywhere = view.field("kb_all") == "on"
    inserted = ""
    async with view.context.pool.acquire() as conn:
        question = await inbox_service.visible_question(conn, view.user, question_id)
        for name in ("insert", "insert_link"):
            chosen = view.field(name)
            passage = await store.get_passage(conn, int(chosen)) if chosen.isdecimal() else None
            if passage is None:
                continue
            addition = passage["body"] if name == "insert" else passage["url"]
            if addition:
                draft = appended(draft, addition)
                inserted = view.viewer.gettext(INSERTED[name], title=passage["title"],
                    version=passage["version"])
    hits = await service.search(
        view.context.pool, words, program=question["program"],
        theme=None if everywhere else question["theme"], limit=MAX_HITS) if words else []
    return await inbox_pages._question_page(
        view, draft=draft, knowledge={"words": words, "everywhere": everywhere,
                                      "hits": hits, "inserted": inserted,
                                      "kinds": service.KIND_WORDS})


def appended(draft: str, addition: str) -> str:
    """The draft with `addition` after it, a blank line between (none when the draft is empty)."""
    kept = draft.rstrip()
    return f"{kept}\n\n{addition}" if kept else addition
