"""One e-mail address rule for the whole gateway: how an address is checked and compared.

Why one place: the same citizen's address arrives in a From header, a web
form, an unsubscribe link and an expert's merge; if each compared addresses
its own way, an unsubscribe could miss the subscription it was meant for,
or one person could become two. Addresses are compared in lower case (the
local part is case-sensitive in theory, never in practice), checked by the
standard library's RFC 5322 parser (`email.headerregistry.Address`), not by
a hand-written pattern. A non-ASCII local part (SMTPUTF8) is refused: few
providers deliver it, and the form says so rather than lose the answer.
"""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address

from gateway.plain_words import N_, said

MAX_ADDRESS_LENGTH = 254  # RFC 5321's path limit less the angle brackets


class EmailAddressError(ValueError):
    """The text is not one e-mail address; the message says why in plain words."""


def normalize_email(text: str) -> str:
    """The address in its compared form ('Ana@Example.ORG ' -> 'ana@example.org').

    Raises EmailAddressError for anything but a single addr-spec with a domain
    that has a dot (a campaign never writes to 'root@localhost').
    """
    candidate = text.strip()
    if not candidate:
        raise EmailAddressError(N_("the e-mail address is empty"))
    if len(candidate) > MAX_ADDRESS_LENGTH:
        raise EmailAddressError(
            said(N_("the e-mail address is longer than %(max_address_length)s characters"),
                 max_address_length=MAX_ADDRESS_LENGTH))
    if any(char.isspace() or char in "<>,;\"" for char in candidate):
        raise EmailAddressError(said(N_("%(candidate)r is not a single e-mail address"),
                                     candidate=candidate))
    try:
        parsed = Address(addr_spec=candidate)
    except (HeaderParseError, ValueError, IndexError) as err:
        detail = str(err.args[0]) if err.args else ""
        reason = (": the part before '@' has non-ASCII letters, which few mail providers"
                  " deliver" if "non-ASCII" in detail else "")
        raise EmailAddressError(said(N_("%(candidate)r is not an e-mail address%(reason)s"),
                                     candidate=candidate, reason=reason)) from err
    if not parsed.username or "." not in parsed.domain or parsed.domain.startswith("."):
        raise EmailAddressError(said(N_("%(candidate)r has no usable domain after '@'"),
                                     candidate=candidate))
    return f"{parsed.username}@{parsed.domain}".lower()
