"""Who may call what: THE allow/deny matrix, route name -> roles, in one table.

Why one table rather than a decorator argument per route: "can finance
staff see contacts?" is answered by reading this file, a reviewer sees every
change to access in one diff, and the test walks this table against every
route and every role. A route missing here cannot be registered (fail
closed: `rule_for` raises), so a new endpoint is never accidentally open.

Roles: admin runs everything; organizers run the campaign (contacts,
keywords, broadcasts); finance staff see donations and reports; experts
answer questions within their themes only (services/actor.py
`may_see_theme`), through the expert inbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

Role = Literal["admin", "organizer", "finance", "expert"]
ROLES: Final[tuple[Role, ...]] = ("admin", "organizer", "finance", "expert")
PUBLIC: Final = "public"  # no login needed

ADMIN: Final = frozenset({"admin"})
CAMPAIGN: Final = frozenset({"admin", "organizer"})
MONEY: Final = frozenset({"admin", "finance"})
EVERYONE: Final = frozenset(ROLES)
OVERVIEW: Final = frozenset({"admin", "organizer", "finance"})  # counts, no personal data
# one contact's gifts: organizers see amounts, statuses and receipts; finance (who has no
# contact page) the same with the donor's identity (services/contact_donations.py)
GIFTS: Final = frozenset({"admin", "organizer", "finance"})
# the expert inbox: organizers are not in it (answering is fenced by theme; see
# web/api/inbox.py) but see the response times, which hold no personal data
INBOX: Final = frozenset({"admin", "expert"})
INBOX_STATS: Final = frozenset({"admin", "organizer", "expert"})
# the knowledge base: organizers file the documents, experts search them to answer
KNOWLEDGE_SEARCH: Final = frozenset({"admin", "organizer", "expert"})

Rule = frozenset[str] | Literal["public"]

ACCESS: Final[Mapping[str, Rule]] = {
    # session and self
    "session.login": PUBLIC,
    "session.logout": PUBLIC,
    "openapi": PUBLIC,
    "me.get": EVERYONE,
    "me.tokens.list": EVERYONE,
    "me.tokens.create": EVERYONE,
    "me.tokens.revoke": EVERYONE,
    # contacts and consent (political opinion can be inferred: compliance rule 27)
    "committees.list": CAMPAIGN,
    "committees.create": CAMPAIGN,
    "committees.activate": CAMPAIGN,
    "events.list": CAMPAIGN,
    "events.create": CAMPAIGN,
    "events.publish": CAMPAIGN,
    "contacts.search": CAMPAIGN,
    "contacts.profile": CAMPAIGN,
    "contacts.timeline": CAMPAIGN,
    "contacts.consent": CAMPAIGN,
    # a contact's gifts: amounts and receipts to organizers, the donor's identity only to
    # admins and finance (services/fences.py sees_donor_identity decides inside)
    "contacts.donations": GIFTS,
    "contacts.email.profile": CAMPAIGN,  # an address that wrote, asked or was linked
    "contacts.email.timeline": CAMPAIGN,
    "contacts.email.consent": CAMPAIGN,
    "consent.list": CAMPAIGN,
    # keywords.yaml
    "keywords.view": CAMPAIGN,
    "keywords.validate": CAMPAIGN,
    "keywords.reload": CAMPAIGN,
    # broadcasts
    "broadcasts.list": CAMPAIGN,
    "broadcasts.preview": CAMPAIGN,
    "broadcasts.create": CAMPAIGN,
    "broadcasts.get": CAMPAIGN,
    "broadcasts.progress": CAMPAIGN,
    "broadcasts.results": CAMPAIGN,
    "broadcasts.winner": CAMPAIGN,
    "broadcasts.schedule": CAMPAIGN,
    "broadcasts.start": CAMPAIGN,
    "broadcasts.pause": CAMPAIGN,
    "broadcasts.resume": CAMPAIGN,
    "broadcasts.cancel": CAMPAIGN,
    # donations
    "donations.list": MONEY,
    "donations.get": MONEY,
    "donations.refund": MONEY,
    # finance reports and reconciliation (downloads are audited)
    "reports.donations": MONEY,
    "reconciliation.summary": MONEY,
    "reconciliation.exceptions": MONEY,
    "reconciliation.upload": MONEY,
    # staff accounts and the audit log
    "users.list": ADMIN,
    "users.create": ADMIN,
    "users.update": ADMIN,
    "users.tokens.list": ADMIN,
    "users.tokens.create": ADMIN,
    "tokens.revoke": ADMIN,
    "audit.list": ADMIN,
    # the expert inbox: experts only within their themes (require_theme)
    "inbox.queues": INBOX,
    "inbox.question": INBOX,
    "inbox.claim": INBOX,
    "inbox.release": INBOX,
    "inbox.answer": INBOX,
    "inbox.response_times": INBOX_STATS,
    "inbox.digest": INBOX,  # one's own e-mail digest of new questions (gateway/notify/)
    "inbox.digest.set": INBOX,
    # the knowledge base (campaign publications, no personal data)
    "knowledge.documents.list": CAMPAIGN,
    "knowledge.documents.create": CAMPAIGN,
    "knowledge.documents.get": CAMPAIGN,
    "knowledge.documents.activate": CAMPAIGN,
    "knowledge.versions.create": CAMPAIGN,
    "knowledge.search": KNOWLEDGE_SEARCH,
    # the voice line: the candidate's message (public content) and call counts (no personal data)
    "voice.messages.list": CAMPAIGN,
    "voice.messages.publish": CAMPAIGN,
    "voice.calls.daily": OVERVIEW,
    "voice.report": CAMPAIGN,  # the organizers' report: counts only
    # data-protection rights: a full export holds donor details, so admins only
    "privacy.export": ADMIN,
    "privacy.erase": ADMIN,
    "privacy.retention": ADMIN,
    # outgoing webhooks: where supporters' events go, and the secrets that sign them
    "webhooks.list": ADMIN,
    "webhooks.create": ADMIN,
    "webhooks.get": ADMIN,
    "webhooks.disable": ADMIN,
    "webhooks.enable": ADMIN,
    "webhooks.delete": ADMIN,
    "webhooks.deliveries": ADMIN,
    "webhooks.replay": ADMIN,
    "webhooks.update": ADMIN,
    "webhooks.rotate_secret": ADMIN,
    # the same on the admin pages (pages/webhooks.py)
    "page.webhooks": ADMIN,
    "page.webhooks.create": ADMIN,
    "page.webhook": ADMIN,
    "page.webhook.update": ADMIN,
    "page.webhook.rotate": ADMIN,
    "page.webhook.enabled": ADMIN,
    "page.webhook.delete": ADMIN,
    "page.webhook.replay": ADMIN,
    # contact exports and saved segments (services/exports.py, services/segments.py): who
    # may export at all; the donor's identity columns only to admins and finance, decided
    # inside (services/fences.py). The file's link is signed and expires: its token is the
    # credential, for a warehouse loader without an API token.
    "exports.create": GIFTS,
    "exports.get": GIFTS,
    "exports.revoke": GIFTS,  # an admin or the export's requester (services/export_jobs.py)
    "exports.file": PUBLIC,
    # the send API (web/api/messages.py): a batch or a segment is a broadcast underneath
    "messages.send": CAMPAIGN,
    "messages.get": CAMPAIGN,
    "messages.list": CAMPAIGN,
    # contact import (docs/import.md): who may change contacts may bring a list in
    "imports.create": CAMPAIGN,
    "imports.get": CAMPAIGN,
    "imports.start": CAMPAIGN,
    # server-rendered pages (gateway/web/pages/); same table, same walk in the tests
    "page.home": PUBLIC,  # redirects: to the login page, or the first page the role may see
    "page.login": PUBLIC,
    "page.dashboard": OVERVIEW,
    "page.settings": EVERYONE,  # one's own time zone and language (pages/my_settings.py)
    "page.settings.save": EVERYONE,
    "page.contacts": CAMPAIGN,
    "page.contact": CAMPAIGN,
    "page.contact_email": CAMPAIGN,
    "page.contact.consent": CAMPAIGN,  # the number's whole consent ledger, in plain words
    "page.contact.donations": GIFTS,  # gifts and receipts; donor details as the API's
    "page.campaign": CAMPAIGN,
    "page.campaign.committee": CAMPAIGN,
    "page.campaign.event": CAMPAIGN,
    "page.campaign.committee.switch": CAMPAIGN,
    "page.campaign.event.switch": CAMPAIGN,
    "page.broadcasts": CAMPAIGN,
    "page.broadcasts.compose": CAMPAIGN,
    "page.broadcasts.submit": CAMPAIGN,
    "page.broadcast": CAMPAIGN,
    "page.broadcast.control": CAMPAIGN,
    "page.donations": MONEY,
    "page.donations.donor": MONEY,  # finds one donor's gifts page by number
    "page.reconciliation": MONEY,
    "page.reconciliation.upload": MONEY,
    "page.contact.erase": ADMIN,
    # one person, many addresses (pages/persons.py): who may change a contact may link it;
    # the link a citizen follows is public, its token the credential
    "page.contact.merge": CAMPAIGN,
    "page.contact.unmerge": CAMPAIGN,
    "page.contact.send_link": CAMPAIGN,
    "page.contact_email.merge": CAMPAIGN,
    "page.contact_email.unmerge": CAMPAIGN,
    "page.contact_email.send_link": CAMPAIGN,
    "page.person_link": PUBLIC,
    "page.person_link.confirm": PUBLIC,
    "page.imports": CAMPAIGN,  # contact import: upload, mapping, dry run, progress
    "page.imports.upload": CAMPAIGN,
    "page.contact_import": CAMPAIGN,
    "page.contact_import.start": CAMPAIGN,
    "page.subscribers": CAMPAIGN,  # e-mail lists and one address's consent history
    "page.subscriber": CAMPAIGN,
    "page.newsletters": CAMPAIGN,  # e-mail broadcasts to confirmed subscribers
    "page.newsletters.create": CAMPAIGN,
    "page.newsletter": CAMPAIGN,
    "page.newsletter.control": CAMPAIGN,
    "page.inbox": INBOX,
    "page.inbox.question": INBOX,
    "page.inbox.claim": INBOX,
    "page.inbox.release": INBOX,
    "page.inbox.answer": INBOX,
    "page.inbox.digest": INBOX,
    "page.inbox.knowledge": INBOX,  # the answer form's knowledge-base search and insert
    "page.inbox.recording": INBOX,  # a recorded question's audio (fenced by theme)
    "page.knowledge": CAMPAIGN,
    "page.knowledge.add": CAMPAIGN,
    "page.knowledge.document": CAMPAIGN,
    "page.knowledge.version": CAMPAIGN,
    "page.knowledge.switch": CAMPAIGN,
    "page.phone": EVERYONE,  # demo only: off unless GATEWAY_WEB_PHONE_SIMULATOR is set
    "page.phone.send": EVERYONE,
    "page.phone.messages": EVERYONE,
    "page.mailbox": EVERYONE,  # demo only: off unless GATEWAY_MAIL_DEMO_MAILBOX is set
    "page.mailbox.message": EVERYONE,
    "page.mailbox.send": EVERYONE,
    "page.voice": CAMPAIGN,  # the voice line: the candidate's message and the calls
    "page.voice.publish": CAMPAIGN,
    "page.voice.report": CAMPAIGN,  # calls per day and branch, abandon rate, questions by theme
    "page.voice.simulator": EVERYONE,  # demo only: off unless GATEWAY_VOICE_SIMULATOR
    "page.voice.simulator.step": EVERYONE,
    "page.voice.simulator.media": PUBLIC,  # the simulated provider's media, basic auth
    # staff accounts and tokens (pages/users.py, pages/my_tokens.py), the keywords file
    "page.users": ADMIN,
    "page.users.create": ADMIN,
    "page.user": ADMIN,
    "page.user.update": ADMIN,
    "page.user.password": ADMIN,
    "page.user.disable": ADMIN,
    "page.user.token.revoke": ADMIN,
    "page.my_tokens": EVERYONE,  # one's own, as me.tokens.*
    "page.my_tokens.create": EVERYONE,
    "page.my_tokens.revoke": EVERYONE,
    "page.keywords": CAMPAIGN,  # as keywords.view / validate / reload
    "page.keywords.check": CAMPAIGN,
    "page.keywords.reload": CAMPAIGN,
    # saved segments, tags and exports (pages/segments.py)
    "page.segments": CAMPAIGN,
    "page.segments.save": CAMPAIGN,
    "page.segment": CAMPAIGN,
    "page.segment.update": CAMPAIGN,
    "page.segment.delete": CAMPAIGN,
    "page.contact.tag": CAMPAIGN,
    "page.contact.untag": CAMPAIGN,
    "page.exports": GIFTS,
    "page.exports.download": GIFTS,
    "page.exports.revoke": GIFTS,  # an admin or the export's requester, as exports.revoke
}


def rule_for(route_name: str) -> Rule:
    """The route's rule; KeyError (at registration, so at start-up) when it has none."""
    try:
        return ACCESS[route_name]
    except KeyError:
        raise KeyError(
            f"route {route_name!r} has no entry in gateway/web/access.py ACCESS; "
            "add one naming the roles allowed"
        ) from None


def allows(rule: Rule, role: str | None) -> bool:
    """Whether someone with `role` (None: not logged in) may call a route with `rule`."""
    if rule == PUBLIC:
        return True
    return role is not None and role in rule


# -- API token scopes (docs/send-api.md) ---------------------------------------------------
# A token carries the scopes chosen when it was made; a route called with a token needs
# its scope below AND its roles above (so a scope never reaches past its owner's role).
# A browser session is limited by its role only. Fail closed as ACCESS: a non-public route
# without a scope here cannot be registered (`scope_for` raises).

Scope = Literal["messages:send", "messages:read", "contacts:read", "contacts:write",
                "contacts:export", "broadcasts:read", "broadcasts:write", "donations:read",
                "donations:write", "webhooks:manage", "admin"]
SCOPES: Final[tuple[Scope, ...]] = (
    "messages:send", "messages:read", "contacts:read", "contacts:write", "contacts:export",
    "broadcasts:read", "broadcasts:write", "donations:read", "donations:write",
    "webhooks:manage", "admin")
SELF: Final = "self"  # about the caller's own account: any live token may ask

ScopeRule = Scope | Literal["self"]

API_SCOPES: Final[Mapping[str, ScopeRule]] = {
    "me.get": SELF,
    "me.tokens.list": SELF,
    "me.tokens.create": SELF,  # refused with any token anyway (services/accounts.py)
    "me.tokens.revoke": SELF,
    "committees.list": "broadcasts:read",
    "committees.create": "broadcasts:write",
    "committees.activate": "broadcasts:write",
    "events.list": "broadcasts:read",
    "events.create": "broadcasts:write",
    "events.publish": "broadcasts:write",
    "contacts.search": "contacts:read",
    "contacts.profile": "contacts:read",
    "contacts.timeline": "contacts:read",
    "contacts.consent": "contacts:read",
    "contacts.donations": "donations:read",
    "contacts.email.profile": "contacts:read",
    "contacts.email.timeline": "contacts:read",
    "contacts.email.consent": "contacts:read",
    "consent.list": "contacts:read",
    "keywords.view": "broadcasts:read",
    "keywords.validate": "broadcasts:read",
    "keywords.reload": "broadcasts:write",
    "broadcasts.list": "broadcasts:read",
    "broadcasts.preview": "broadcasts:read",
    "broadcasts.create": "broadcasts:write",
    "broadcasts.get": "broadcasts:read",
    "broadcasts.progress": "broadcasts:read",
    "broadcasts.schedule": "broadcasts:write",
    "broadcasts.start": "broadcasts:write",
    "broadcasts.pause": "broadcasts:write",
    "broadcasts.resume": "broadcasts:write",
    "broadcasts.cancel": "broadcasts:write",
    "donations.list": "donations:read",
    "donations.get": "donations:read",
    "donations.refund": "donations:write",  # money moves: a scope of its own
    "reports.donations": "donations:read",
    "reconciliation.summary": "donations:read",
    "reconciliation.exceptions": "donations:read",
    "reconciliation.upload": "donations:write",
    "users.list": "admin",
    "users.create": "admin",
    "users.update": "admin",
    "users.tokens.list": "admin",
    "users.tokens.create": "admin",
    "tokens.revoke": "admin",
    "audit.list": "admin",
    "inbox.queues": "messages:read",
    "inbox.question": "messages:read",
    "inbox.claim": "messages:send",
    "inbox.release": "messages:send",
    "inbox.answer": "messages:send",
    "inbox.response_times": "messages:read",
    "inbox.digest": "messages:read",
    "inbox.digest.set": "messages:send",
    "knowledge.documents.list": "broadcasts:read",
    "knowledge.documents.create": "broadcasts:write",
    "knowledge.documents.get": "broadcasts:read",
    "knowledge.documents.activate": "broadcasts:write",
    "knowledge.versions.create": "broadcasts:write",
    "knowledge.search": "messages:read",
    "voice.messages.list": "broadcasts:read",
    "voice.messages.publish": "broadcasts:write",
    "voice.calls.daily": "broadcasts:read",
    "voice.report": "broadcasts:read",
    "privacy.export": "contacts:export",
    "privacy.erase": "admin",
    "privacy.retention": "admin",
    "webhooks.list": "webhooks:manage",
    "webhooks.create": "webhooks:manage",
    "webhooks.get": "webhooks:manage",
    "webhooks.disable": "webhooks:manage",
    "webhooks.enable": "webhooks:manage",
    "webhooks.delete": "webhooks:manage",
    "webhooks.deliveries": "webhooks:manage",
    "webhooks.replay": "webhooks:manage",
    "webhooks.update": "webhooks:manage",
    "webhooks.rotate_secret": "webhooks:manage",
    "exports.create": "contacts:export",
    "exports.get": "contacts:export",
    "exports.revoke": "contacts:export",
    "broadcasts.results": "broadcasts:read",
    "broadcasts.winner": "broadcasts:write",
    "imports.create": "contacts:write",
    "imports.get": "contacts:write",
    "imports.start": "contacts:write",
    "messages.send": "messages:send",
    "messages.get": "messages:read",
    "messages.list": "messages:read",
}


def scope_for(route_name: str) -> ScopeRule | None:
    """The scope a token needs for the route (None: a public route); KeyError when missing."""
    if rule_for(route_name) == PUBLIC:
        return None
    try:
        return API_SCOPES[route_name]
    except KeyError:
        raise KeyError(
            f"route {route_name!r} has no entry in gateway/web/access.py API_SCOPES; "
            "add the scope a token needs for it") from None


def scopes_for_role(role: str) -> frozenset[Scope]:
    """The scopes a token of someone with `role` may hold: those of a route the role may use
    (derived from the two tables, so a scope never reaches past the role)."""
    if role == "admin":  # admins may do everything, a scope no route uses yet included
        return frozenset(SCOPES)
    # the admin scope is an admin's only: so a finance token cannot refund or import
    # a statement (those stay with a browser session, or an admin's token)
    held = {scope for name, scope in API_SCOPES.items()
            if scope not in (SELF, "admin") and allows(ACCESS.get(name, frozenset()), role)}
    return frozenset(s for s in SCOPES if s in held)
