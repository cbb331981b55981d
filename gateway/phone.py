"""Phone numbers become E.164 at the edge and stay that way inside.

SMSCs send the supporter's number in whatever form the carrier uses:
international with TON 1 ("15551234567"), national ("5551234567"), or with a
plus. `phonenumbers` (Google's libphonenumber metadata) does the parsing; we
add a cache, because the same numbers text us over and over, and one shape
it need not parse (below), because a parse costs about 70 microseconds and
a burst of JOINs is mostly numbers never seen before.

The shape: a North American number in international form, "1" then ten
digits whose area code starts with 2-9, as the SMSC of a US short code
delivers every MO (TON 1, no plus). phonenumbers gives such a number back
unchanged with a plus in front (country code 1, no national prefix to strip,
ten digits a possible length): tests/test_phone_fast_path.py checks that
against phonenumbers itself over every area code and random lines.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from gateway.plain_words import N_, said

TON_INTERNATIONAL = 1
NANP_INTERNATIONAL = re.compile(r"\+1[2-9][0-9]{9}")  # what phonenumbers returns as is


class InvalidNumber(ValueError):
    """The address cannot be a phone number; the MO is refused with an error status."""


@lru_cache(maxsize=65_536)
def to_e164(raw: str, *, ton: int = 0, default_region: str = "US") -> str:
    """The number in E.164, read in `default_region` unless it says its country;
    InvalidNumber when it cannot be a phone number."""
    text = raw.strip()
    if not text:
        raise InvalidNumber(N_("empty phone number"))
    if ton == TON_INTERNATIONAL and not text.startswith("+"):
        text = "+" + text
    if NANP_INTERNATIONAL.fullmatch(text):
        return text
    return parsed_e164(raw, text, default_region)


def parsed_e164(raw: str, text: str, default_region: str) -> str:
    """`to_e164` by phonenumbers alone; `raw` only names the number in errors."""
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as err:
        raise InvalidNumber(said(N_("cannot parse phone number ending %(raw)r: %(err)s"),
                                 raw=raw[-4:], err=err)) from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumber(said(N_("not a possible phone number (ending %(raw)r)"), raw=raw[-4:]))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def to_valid_e164(raw: str, *, default_region: str = "US") -> str:
    """A number staff or a script gives us to send to: E.164, and a number that can exist
    (`is_valid_number`), stricter than what an SMSC reports (`to_e164` takes any possible
    one); InvalidNumber otherwise."""
    e164 = to_e164(raw, default_region=default_region)
    if not phonenumbers.is_valid_number(phonenumbers.parse(e164)):
        raise InvalidNumber(said(N_("not a valid phone number (ending %(raw)r)"), raw=raw[-4:]))
    return e164


def smpp_address(e164: str) -> str:
    """SMPP carries international numbers without the plus, with TON 1 / NPI 1."""
    return e164[1:] if e164.startswith("+") else e164
