"""Which pages a role can open, read from the page tables and the access matrix.

Why derived rather than listed: a page added to gateway/web/pages/ (and its rule
to gateway/web/access.py) is walked by the accessibility test the day it lands,
with no list here to forget. Pages whose path needs an id (`/broadcasts/{broadcast_id}`)
are reached as a person reaches them: through a link on a page already walked, so
the test's data must give each one a row to link to; a page nobody links to is
reported by name. Only what is not an HTML page is left out, each with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.web import access
from gateway.web.pages import all_pages
from gateway.web.pages.frame import Page

# GET routes that answer something other than an HTML page (the JSON helpers of a page,
# `json=True`, are left out by their flag).
NOT_HTML: dict[str, str] = {
    "page.home": "a redirect to the login page or the role's first page",
    "page.inbox.recording": "a recorded question's audio",
    "page.voice.simulator.media": "the simulated provider's audio, behind basic auth",
    "page.donations.donor": "a redirect to one donor's gifts page, from the Donations "
                            "page's number form",
    "page.exports.download": "the CSV file of the export form (tests/test_exports.py)",
}
# pages whose plain path is not a page by itself: they are reached through a link
# carrying a query (the demo mailbox's message: ?address=...&name=...)
BY_LINK_ONLY: frozenset[str] = frozenset({"page.mailbox.message"})

_PARAM = re.compile(r"\{[a-z_]+\}")


def html_pages() -> list[Page]:
    return [page for page in all_pages()
            if page.method == "GET" and not page.json and page.name not in NOT_HTML]


def pages_for(role: str | None) -> list[Page]:
    """The HTML pages `role` may open (None: the public ones, for someone logged out)."""
    if role is None:
        return [page for page in html_pages() if page.rule == access.PUBLIC]
    return [page for page in html_pages()
            if page.rule != access.PUBLIC and access.allows(page.rule, role)]


def needs_link(page: Page) -> bool:
    return bool(_PARAM.search(page.path)) or page.name in BY_LINK_ONLY


def link_pattern(page: Page) -> re.Pattern[str]:
    """What a link to `page` looks like: each {param} one path segment, digits for an id
    (as the router matches it: /broadcasts/new is not broadcast "new")."""
    body, end = "", 0
    for param in _PARAM.finditer(page.path):
        body += re.escape(page.path[end:param.start()])
        body += r"\d+" if param[0].endswith("_id}") else "[^/?#]+"
        end = param.end()
    body += re.escape(page.path[end:])
    return re.compile(f"^{body}(\\?[^#]*)?$")


def first_link(page: Page, links: Iterable[str]) -> str | None:
    pattern = link_pattern(page)
    return next((link for link in links if pattern.match(link)), None)
