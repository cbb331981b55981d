"""The signed unsubscribe link: it names one address and one program, and nothing else reads
as one of ours."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from gateway.config import Settings, load_settings
from gateway.unsubscribe_link import (
    BadLink,
    LinkKeyMissing,
    program_of_url,
    read_token,
    unsubscribe_url,
)

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = load_settings({"DATABASE_URL": "postgresql://localhost/x",
                          "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"),
                          "GATEWAY_PUBLIC_BASE_URL": "https://act.campaign.example/",
                          "GATEWAY_MAIL_LINK_SECRET": "k1"})
addresses = st.emails().map(str.lower)
programs = st.from_regex(r"[a-z][a-z0-9_]{0,39}", fullmatch=True)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@settings(max_examples=200, deadline=None)
@given(addresses, programs)
def test_a_link_reads_back_as_its_address_and_program(address: str, program: str) -> None:
    url = unsubscribe_url(SETTINGS, address, program)
    assert url.startswith("https://act.campaign.example/mail/unsubscribe/")
    assert address not in url  # encoded, so it is not in clear in a proxy's log line
    assert read_token(SETTINGS, token_of(url)) == (address, program)
    assert program_of_url(url) == program


@settings(max_examples=200, deadline=None)
@given(addresses, programs, st.integers(0, 200), st.characters(codec="ascii"))
# the signature's last base64 character has spare bits: this spelling decoded alike
@example(address="0@a010000000.a.a.ad", program="a000", at=164, char="0")
def test_a_changed_character_is_refused(address: str, program: str, at: int,
                                        char: str) -> None:
    token = token_of(unsubscribe_url(SETTINGS, address, program))
    at %= len(token)
    changed = token[:at] + char + token[at + 1:]
    if changed != token:
        with pytest.raises(BadLink):
            if read_token(SETTINGS, changed) != (address, program):
                raise BadLink("read as another address: the signature must have failed")


@given(st.text(max_size=120))
def test_anything_else_is_no_link_of_ours(text: str) -> None:
    with pytest.raises(BadLink):
        read_token(SETTINGS, text + ".c2ln")
    assert program_of_url("https://elsewhere.example/" + text.replace("/", "")) is None


def test_another_key_refuses_the_link_and_no_key_makes_none() -> None:
    url = unsubscribe_url(SETTINGS, "ana@example.org", "rise")
    other = SETTINGS.model_copy(update={"mail_link_secret": SecretStr("k2")})
    with pytest.raises(BadLink):
        read_token(other, token_of(url))
    unset: Settings = SETTINGS.model_copy(update={"mail_link_secret": None})
    with pytest.raises(LinkKeyMissing, match="GATEWAY_MAIL_LINK_SECRET"):
        unsubscribe_url(unset, "ana@example.org", "rise")
    assert program_of_url(url) == "rise"  # the sender reads the program without the key
    assert program_of_url(None) is None
