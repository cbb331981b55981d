"""Consent for e-mail: double opt-in, unsubscribe by link, one click or reply, and the check
every bulk mail passes. See docs/email.md and docs/privacy.md.

Why a package of its own (a layer in docs/architecture.md): the public pages,
the staff pages, the mail router (a reply saying "unsubscribe") and the
newsletter sender all need the same rules, and the mail router may not import
the staff services. The ledger and states are SQL in
gateway/store/address_consent.py; the unsubscribe link is
gateway/unsubscribe_link.py, so the sender's suppression check can read it.

What other parts call:
- `request_opt_in(conn, settings, rules, *, address, program, source, wording, version,
  evidence, now, language)`: an explicit request (a ticked box...), in the caller's
  transaction; queues the confirmation mail.
- `unsubscribe_by_reply(conn, address, mail_id, text, now, subject=...)`: the mail router.
- `may_send_bulk(conn, address, program)`; for a mail_outbox row,
  `gateway.store.address_consent.mail_suppression_reason`.
- `unsubscribe_url(settings, address, program)`: the link a bulk mail carries.
"""

from __future__ import annotations

from gateway.email_consent.opt_in import (
    ConfirmLink,
    Evidence,
    OptInRequest,
    confirm,
    open_confirmation,
    request_opt_in,
)
from gateway.email_consent.opt_out import may_send_bulk, unsubscribe, unsubscribe_by_reply
from gateway.email_consent.reply_words import is_unsubscribe_request
from gateway.unsubscribe_link import unsubscribe_url

__all__ = ["ConfirmLink", "Evidence", "OptInRequest", "confirm", "is_unsubscribe_request",
           "may_send_bulk", "open_confirmation", "request_opt_in", "unsubscribe",
           "unsubscribe_by_reply", "unsubscribe_url"]
