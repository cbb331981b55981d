"""The admin pages: server-rendered HTML for organizers, finance staff, experts and admins.

Mounted next to the API (`add_api_routes` first: the pages use its context
and its POST /login and /logout). Adding a page:
  1. in a module here, `pages = PageTable()` and `@pages.get(path, name="page.x")`;
  2. its roles: one line in `gateway/web/access.py` ACCESS (import fails without);
  3. a new module: add its `pages` to `TABLES` below, and a `NavItem` to `NAV`
     when it belongs in the navigation (items show only to roles allowed in).

The expert inbox (pages/inbox.py) is in `NAV` for experts and admins.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from gateway.web.pages import (
    broadcasts,
    campaign,
    contacts,
    dashboard,
    donations,
    imports,
    inbox,
    inbox_knowledge,
    keywords,
    knowledge_base,
    login,
    mailbox,
    my_settings,
    my_tokens,
    newsletters,
    persons,
    phone,
    privacy,
    segments,
    subscribers,
    users,
    voice,
    voice_simulator,
    webhooks,
)
from gateway.web.pages.frame import (
    SITE,
    NavItem,
    Page,
    PageTable,
    Site,
    make_templates,
    mount_pages,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

TABLES: tuple[PageTable, ...] = (
    login.pages, dashboard.pages, contacts.pages, broadcasts.pages, donations.pages,
    phone.pages, mailbox.pages, inbox.pages, privacy.pages, campaign.pages,
    inbox_knowledge.pages, knowledge_base.pages, persons.pages, subscribers.pages,
    newsletters.pages, voice.pages, voice_simulator.pages, my_settings.pages, users.pages,
    my_tokens.pages, keywords.pages, webhooks.pages, segments.pages, imports.pages,
)

NAV: tuple[NavItem, ...] = (
    NavItem("page.dashboard", "/dashboard", "Dashboard"),
    NavItem("page.contacts", "/contacts", "Contacts"),
    NavItem("page.imports", "/imports", "Imports"),
    NavItem("page.subscribers", "/subscribers", "E-mail subscribers"),
    NavItem("page.segments", "/segments", "Saved segments"),
    NavItem("page.broadcasts", "/broadcasts", "Broadcasts"),
    NavItem("page.newsletters", "/newsletters", "Newsletters"),
    NavItem("page.campaign", "/campaign", "Committees and events"),
    NavItem("page.knowledge", "/knowledge", "Knowledge base"),
    NavItem("page.exports", "/exports", "Exports"),
    NavItem("page.donations", "/donations", "Donations"),
    NavItem("page.reconciliation", "/donations/reconciliation", "Reconciliation"),
    NavItem("page.inbox", "/inbox", "Expert inbox"),
    NavItem("page.keywords", "/keywords", "Keywords file"),
    NavItem("page.users", "/users", "Staff accounts"),
    NavItem("page.my_tokens", "/me/tokens", "My API tokens"),
    NavItem("page.webhooks", "/webhooks", "Webhooks"),
    NavItem("page.voice", "/voice-line", "Voice line",
            when=lambda settings: settings.voice_enabled),
    NavItem("page.voice.report", "/voice-line/report", "Voice line report",
            when=lambda settings: settings.voice_enabled),
    NavItem("page.voice.simulator", "/voice-line/simulator", "Call simulator",
            when=lambda settings: settings.voice_simulator and settings.voice_enabled
            and settings.voice_signature_scheme != "telnyx"),
    NavItem("page.phone", "/phone", "Phone simulator",
            when=lambda settings: settings.web_phone_simulator is not None),
    NavItem("page.mailbox", "/mailbox", "Mailbox",
            when=lambda settings: settings.mail_demo_mailbox is not None),
)


def all_pages(tables: tuple[PageTable, ...] = TABLES) -> list[Page]:
    return [page for table in tables for page in table.pages]


async def favicon(request: web.Request) -> web.StreamResponse:
    """Browsers ask for /favicon.ico on their own; the icon is the SVG the pages link."""
    raise web.HTTPMovedPermanently("/static/favicon.svg")


def add_pages(app: web.Application, *, smpp_state: Callable[[], str] | None = None,
              programs: Callable[[], list[str]] | None = None) -> list[Page]:
    """Mount every page and /static on `app`, which already has the API (its context).

    `smpp_state` says "bound" or not (the dashboard); `programs` lists the keyword
    file's programs (the broadcast composer). Both are optional outside a gateway.
    """
    app[SITE] = Site(templates=make_templates(), nav=NAV, smpp_state=smpp_state,
                     programs=programs)
    pages = all_pages()
    mount_pages(app, pages)
    app.router.add_static("/static/", STATIC_DIR, name="static")
    app.router.add_get("/favicon.ico", favicon, name="favicon")
    app.on_cleanup.append(phone.close_bridge)
    return pages
