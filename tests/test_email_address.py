"""The one address rule: what is accepted, how it compares, and that anything else is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.email_address import EmailAddressError, normalize_email


@pytest.mark.parametrize(("text", "expected"), [
    ("Ana@Example.ORG", "ana@example.org"),
    ("  ana.b+news@mail.example.fr\n", "ana.b+news@mail.example.fr"),
])
def test_accepted_addresses_compare_in_lower_case(text: str, expected: str) -> None:
    assert normalize_email(text) == expected


@pytest.mark.parametrize("text", [
    "", "ana", "ana@", "@example.org", "ana@localhost", "ana@example.org, bob@example.org",
    "Ana <ana@example.org>", "élise@exemple.fr", "ana @example.org", "a" * 250 + "@example.org",
])
def test_anything_else_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(EmailAddressError):
        normalize_email(text)


@given(st.text(max_size=80))
def test_any_text_is_either_refused_or_normalized_stably(text: str) -> None:
    try:
        once = normalize_email(text)
    except EmailAddressError:
        return
    assert normalize_email(once) == once and once == once.lower() and "@" in once


def test_settings_check_the_from_address_and_build_public_links() -> None:
    from gateway.config import ConfigError, load_settings

    settings = load_settings({"DATABASE_URL": "postgresql://x/y",
                              "GATEWAY_MAIL_CONTACT_ADDRESSES": "Contact@Campaign.example",
                              "GATEWAY_PUBLIC_BASE_URL": "https://act.campaign.example/"})
    assert settings.mail_sender() == "contact@campaign.example"
    assert settings.public_url("mail/confirm/x") == "https://act.campaign.example/mail/confirm/x"
    with pytest.raises(ConfigError, match=r"MAIL_FROM_ADDRESS"):
        load_settings({"DATABASE_URL": "postgresql://x/y",
                       "GATEWAY_MAIL_FROM_ADDRESS": "not an address"})
