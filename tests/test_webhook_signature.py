"""The signature header and the receiver URL rule: properties over any body, any header."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.hooks.receivers import ReceiverUrlError, check_receiver_url
from gateway.hooks.signature import SignatureError, new_secret, signature_header, verify

SECRET = new_secret()
NOW = 1_800_000_000


@given(body=st.binary(max_size=2000), skew=st.integers(-300, 300))
def test_a_signed_body_verifies_within_the_window(body: bytes, skew: int) -> None:
    header = signature_header(SECRET, NOW, body)
    assert verify(SECRET, header, body, now=NOW + skew) == NOW


@given(body=st.binary(min_size=1, max_size=200), flip=st.integers(0, 199))
def test_any_changed_byte_fails(body: bytes, flip: int) -> None:
    header = signature_header(SECRET, NOW, body)
    position = flip % len(body)
    changed = body[:position] + bytes([body[position] ^ 1]) + body[position + 1:]
    with pytest.raises(SignatureError, match="matches"):
        verify(SECRET, header, changed, now=NOW)


@given(header=st.text(max_size=200))
def test_any_forged_header_is_refused_with_a_signature_error(header: str) -> None:
    with pytest.raises(SignatureError):  # never an IndexError or a ValueError of int()
        verify(SECRET, header, b"{}", now=NOW)


def test_outside_the_window_another_secret_or_a_second_v1() -> None:
    header = signature_header(SECRET, NOW, b"{}")
    with pytest.raises(SignatureError, match="more than 300 s"):
        verify(SECRET, header, b"{}", now=NOW + 301)
    with pytest.raises(SignatureError, match="matches"):
        verify(new_secret(), header, b"{}", now=NOW)
    rotated = header.replace("t=", "v1=00,t=")  # an old secret's signature beside the new
    assert verify(SECRET, rotated, b"{}", now=NOW) == NOW


@pytest.mark.parametrize(("url", "loopback_http", "ok"), [
    ("https://crm.example.org/hooks?key=1", False, True),
    ("https://[2001:db8::1]:8443/h", False, True),
    ("http://crm.example.org/hooks", True, False),
    ("http://127.0.0.1:8080/hooks", True, True),
    ("http://[::1]/hooks", True, True),
    ("http://localhost/hooks", True, True),
    ("http://127.0.0.1:8080/hooks", False, False),
    ("http://10.0.0.5/hooks", True, False),
    ("https://crm.example.org:notaport/", False, False),
    ("https://u:p@crm.example.org/", False, False),
])
def test_receiver_urls(url: str, loopback_http: bool, ok: bool) -> None:
    if ok:
        assert check_receiver_url(url, allow_loopback_http=loopback_http) == url
    else:
        with pytest.raises(ReceiverUrlError):
            check_receiver_url(url, allow_loopback_http=loopback_http)
