"""What an address is: its channel, its one compared form, and how a page shows it masked.

Why here and not at each caller: a merge form, a confirmation link and the
privacy rights all take "an address", a mobile number or an e-mail address,
and must agree on which channel it is and on its form (E.164 for numbers,
gateway/email_address.py for e-mail), or one person could become two.
"""

from __future__ import annotations

from gateway.email_address import EmailAddressError, normalize_email
from gateway.logs import mask_msisdn
from gateway.plain_words import N_, said
from gateway.services.errors import invalid
from gateway.services.privacy import e164
from gateway.store.persons import Channel


def channel_of(address: str) -> Channel:
    """'email' for anything with an '@', else 'sms' (an E.164 number)."""
    return "email" if "@" in address else "sms"


def parse_address(raw: str, *, field: str) -> str:
    """A typed address in its compared form, or a 400 naming `field` and what is wrong.

    Numbers must be full E.164 (+<country code><number>): a default region would
    guess, and a guess may be a neighbour's number.
    """
    text = raw.strip()
    if not text:
        raise invalid(said(N_("%(field)s: give an e-mail address or a mobile number in E.164 form "
                              "(+<country code><number>)"), field=field), field=field)
    if "@" in text:
        try:
            return normalize_email(text)
        except EmailAddressError as err:
            raise invalid(said(N_("%(field)s: %(err)s"),
                               field=field, err=err), field=field) from None
    return e164(text, field=field)


def checked(address: str) -> str:
    """An address a program hands in, which must already be in its compared form."""
    if channel_of(address) == "email":
        try:
            if normalize_email(address) == address:
                return address
        except EmailAddressError:
            pass
        raise ValueError(f"not a normalized e-mail address: {address!r} "
                         "(gateway.email_address.normalize_email it first)")
    return e164(address, field="address")


def masked(address: str) -> str:
    """For a citizen's eyes: 'a…@example.org', or a number's last four digits."""
    if channel_of(address) == "email":
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}…@{domain}"
    return mask_msisdn(address)
