"""What each API token scope lets a script do, in words staff read on the tokens page.

The scope names are gateway/web/access.py's `SCOPES`; the words are here so the
page (and the `plain("scope")` filter) never shows a raw name alone.
"""

from __future__ import annotations

from typing import Final

from gateway.plain_words import N_, Words

SCOPE_WORDS: Final[Words] = {
    "messages:send": N_("Send text messages, answer questions"),
    "messages:read": N_("Read sent messages, their delivery and the inbox"),
    "contacts:read": N_("Read contacts, their history and consent"),
    "contacts:write": N_("Change contacts"),
    "contacts:export": N_("Export contacts' data"),
    "broadcasts:read": N_("Read broadcasts, keywords and campaign settings"),
    "broadcasts:write": N_("Create and run broadcasts, change keywords"),
    "donations:read": N_("Read donations and finance reports"),
    "donations:write": N_("Refund gifts and upload settlement statements"),
    "webhooks:manage": N_("Manage outgoing webhooks"),
    "admin": N_("Administer: staff accounts, refunds, erasure, audit log"),
}
