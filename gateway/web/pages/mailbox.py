"""The demo's mailbox page: read what the gateway mailed a citizen, write or reply as them.

Beside the phone page: the newcomer picks a citizen's address, sees the mail
the gateway sent there (the demo's outgoing-mail sink stores it in
GATEWAY_MAIL_DEMO_MAILBOX, gateway/mail/demo_sink.py), opens a message (its
text part and the headers that matter: threading, Auto-Submitted,
List-Unsubscribe), and writes to the campaign or replies. What they write goes
to the gateway's own SMTP listener, as a citizen's mail would, with
In-Reply-To and References set on a reply, so the answer thread can be
watched end to end.

Why off unless GATEWAY_MAIL_DEMO_MAILBOX is set: a page that sends mail as
any address must not exist in production. Disabled, every route here
answers 404.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from gateway.email_address import EmailAddressError, normalize_email
from gateway.mail import demo_mailbox
from gateway.mail.demo_mailbox import Letter
from gateway.plain_words import N_, reason, said
from gateway.web.errors import bad_request, conflict, not_found
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

DEFAULT_ADDRESS = "renee@example.org"
MAX_SUBJECT = 200
MAX_TEXT = 20_000


def mailbox_root(view: View) -> Path:
    """The sink's directory; 404 when the setting is off (production)."""
    root = view.context.settings.mail_demo_mailbox
    if root is None:
        raise not_found(N_("the demo mailbox (set GATEWAY_MAIL_DEMO_MAILBOX in a demo)"))
    return root


def _address(raw: str) -> str:
    try:
        return normalize_email(raw or DEFAULT_ADDRESS)
    except EmailAddressError as err:
        raise bad_request(reason(err), field="address") from None


def _contacts(view: View) -> list[str]:
    return list(view.context.settings.mail_contact_addresses)


@pages.get("/mailbox", name="page.mailbox")
async def mailbox_page(view: View) -> web.StreamResponse:
    root = mailbox_root(view)
    known = await asyncio.to_thread(demo_mailbox.addresses, root)
    # no address asked: the first mailbox that has mail (the form's citizen, say)
    address = _address(view.query("address") or (known[0][0] if known else ""))
    found = await asyncio.to_thread(demo_mailbox.letters, root, address)
    return view.render("mailbox.html", title=N_("Mailbox"), address=address, letters=found,
                       known=known, contacts=_contacts(view),
                       listener=view.context.settings.mail_smtp_enabled)


@pages.get("/mailbox/message", name="page.mailbox.message")
async def mailbox_message(view: View) -> web.StreamResponse:
    root = mailbox_root(view)
    address = _address(view.query("address"))
    found = await asyncio.to_thread(demo_mailbox.letter, root, address, view.query("name"))
    if found is None:
        raise not_found(said(N_("that message in %(address)s's mailbox"), address=address))
    return view.render("mailbox_message.html", title=found.subject or N_("(no subject)"),
                       address=address, letter=found,
                       reply_subject=demo_mailbox.reply_subject(found.subject),
                       listener=view.context.settings.mail_smtp_enabled)


@pages.post("/mailbox/send", name="page.mailbox.send")
async def mailbox_send(view: View) -> web.StreamResponse:
    """Write as the citizen `address`: to a contact address, or as a reply to a message."""
    root = mailbox_root(view)
    settings = view.context.settings
    address = _address(view.field("address"))
    subject, text = view.field("subject"), view.field("text")
    if not text or len(text) > MAX_TEXT:
        raise bad_request(said(N_("write a message of 1 to %(max_text)s characters"),
                               max_text=MAX_TEXT), field="text")
    if len(subject) > MAX_SUBJECT:
        raise bad_request(said(N_("a subject of at most %(max_subject)s characters"),
                               max_subject=MAX_SUBJECT), field="subject")
    answering: Letter | None = None
    if view.field("answering"):
        answering = await asyncio.to_thread(demo_mailbox.letter, root, address,
                                            view.field("answering"))
        if answering is None:
            raise not_found(N_("the message this replies to"))
    # The listener decides who may be written to, as it would for a citizen's mail.
    to = answering.answer_to if answering is not None else view.field("to")
    if not settings.mail_smtp_enabled:
        raise conflict(N_("the gateway's SMTP listener is off (GATEWAY_MAIL_SMTP_ENABLED)"))
    try:
        message = demo_mailbox.citizen_mail(citizen=address, to=to, subject=subject,
                                            text=text, answering=answering)
    except (ValueError, IndexError):
        raise bad_request(said(N_("%(to)r is not an address to write to"),
                               to=to), field="to") from None
    try:
        await demo_mailbox.submit(settings.mail_smtp_host, settings.mail_smtp_port, message)
    except demo_mailbox.SubmitFailed as err:
        raise conflict(said(N_("the gateway's SMTP listener did not take it: %(err)s"),
                            err=err)) from None
    await asyncio.to_thread(demo_mailbox.keep_sent, root, address, message)
    return view.redirect("/mailbox", address=address)
