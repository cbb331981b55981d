"""The e-mail settings: off by default, and every mistake named in one message."""

from __future__ import annotations

import pytest

from gateway.config import ConfigError, load_settings

BASE = {"DATABASE_URL": "postgresql://gateway@localhost/gateway"}


def test_mail_intake_is_off_by_default() -> None:
    settings = load_settings(BASE)
    assert not settings.mail_smtp_enabled and settings.mail_imap_host is None
    assert settings.mail_contact_addresses == []
    assert settings.mail_max_message_bytes == 25_000_000


@pytest.mark.parametrize("written", ['Contact@Campagne.example, questions@campagne.example',
                                     '["Contact@Campagne.example", "questions@campagne.example"]'])
def test_contact_addresses_as_a_list_or_json_and_in_lower_case(written: str) -> None:
    settings = load_settings(BASE | {"GATEWAY_MAIL_SMTP_ENABLED": "true",
                                     "GATEWAY_MAIL_CONTACT_ADDRESSES": written})
    assert settings.mail_contact_addresses == ["contact@campagne.example",
                                               "questions@campagne.example"]


def test_every_mail_mistake_is_reported_at_once_and_no_password_echoed() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(BASE | {
            "GATEWAY_MAIL_SMTP_ENABLED": "true",
            "GATEWAY_MAIL_SMTP_TLS_CERT": "/etc/ssl/cert.pem",
            "GATEWAY_MAIL_MAX_MESSAGE_BYTES": "10",
            "GATEWAY_MAIL_IMAP_HOST": "imap.example.org",
            "GATEWAY_MAIL_IMAP_SECURITY": "ssl"})
    text = str(raised.value)
    for name in ("GATEWAY_MAIL_CONTACT_ADDRESSES: Value error, required when "
                 "GATEWAY_MAIL_SMTP_ENABLED", "GATEWAY_MAIL_SMTP_TLS_KEY",
                 "GATEWAY_MAIL_MAX_MESSAGE_BYTES", "GATEWAY_MAIL_IMAP_USER",
                 "GATEWAY_MAIL_IMAP_PASSWORD", "GATEWAY_MAIL_IMAP_SECURITY"):
        assert name in text
    with pytest.raises(ConfigError) as raised:
        load_settings(BASE | {"GATEWAY_MAIL_CONTACT_ADDRESSES": "not an address, x@y.example",
                              "GATEWAY_MAIL_IMAP_USER": "u",
                              "GATEWAY_MAIL_IMAP_PASSWORD": "hunter2"})
    assert "not e-mail addresses: not an address" in str(raised.value)
    assert "hunter2" not in str(raised.value)
