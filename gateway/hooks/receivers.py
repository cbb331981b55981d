"""Which receiver URLs a subscription may name: https, or http to loopback for a demo.

Why https only: the body names supporters and gifts, and the signature proves
who sent it but hides nothing. A demo or a test receiver on the same machine
has no certificate; GATEWAY_WEBHOOKS_ALLOW_LOOPBACK_HTTP lets such a URL in,
and only for a loopback host (127.0.0.0/8, ::1, localhost).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from gateway.plain_words import N_, said


class ReceiverUrlError(ValueError):
    """A receiver URL the gateway will not POST to; the message says why."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_receiver_url(url: str, *, allow_loopback_http: bool) -> str:
    """`url` as given when it may be used; ReceiverUrlError otherwise."""
    if len(url) > 2000:
        raise ReceiverUrlError(N_("the URL is longer than 2000 characters"))
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as err:
        raise ReceiverUrlError(said(N_("the URL cannot be read: %(err)s"), err=err)) from None
    if not host:
        raise ReceiverUrlError(N_("the URL names no host"))
    if parts.username or parts.password:
        raise ReceiverUrlError(N_("the URL must not carry a user name or password"))
    if parts.fragment:
        raise ReceiverUrlError(N_("the URL must not have a #fragment"))
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_loopback_http and is_loopback(host):
        return url
    if parts.scheme == "http" and is_loopback(host):
        raise ReceiverUrlError(N_("http is allowed for a loopback receiver only when "
                                  "GATEWAY_WEBHOOKS_ALLOW_LOOPBACK_HTTP is set; use https"))
    raise ReceiverUrlError(N_("the URL must start with https://"))
