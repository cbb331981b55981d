"""Where the delivery task may connect: public addresses only, checked at connect time.

Why: a subscription URL is chosen by an admin, but a receiver's DNS is not
ours. Without a check, `https://crm.example.org/` could resolve to
169.254.169.254 (a cloud's metadata service), 127.0.0.1 (the gateway's own
admin port) or 10.0.0.5 (the campaign's database), and the gateway would
POST there with its network position (server-side request forgery).

Why at connect time, twice:
- `GuardedResolver` wraps aiohttp's resolver and refuses a host when ANY of
  the addresses it resolves to is not public, with a reason that names the
  address; the connector then connects only to the addresses it returned,
  so a name that answers "public" to a check and "private" a second later
  (DNS rebinding) never gets a second lookup between check and connect.
- `guarded_socket` is the connector's socket factory: it sees the exact
  address each socket is about to connect to (also an IP literal in the URL,
  which aiohttp never sends to a resolver) and refuses it the same way.
A refusal is an OSError: the attempt fails with that reason in the delivery
log, and is retried like any unreachable receiver.

`allow_private` (GATEWAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS) turns both off, for
a receiver inside the campaign's network or a test's receiver on loopback.
The standard library's `ipaddress` says what an address is.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ForbiddenAddress(OSError):
    """A receiver address the gateway will not connect to; the message says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EACCES, reason)  # strerror: what aiohttp's error shows


def refusal(address: str) -> str | None:
    """Why the delivery task may not connect to `address` (None: it may)."""
    try:
        ip: IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, test in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
                       ("reserved", ip.is_reserved), ("private", ip.is_private),
                       ("not public", not ip.is_global)):
        if test:
            return (f"refused to connect to {ip}: a {kind} address (set "
                    f"GATEWAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS to allow it)")
    return None


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a host any of whose addresses is not public."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for result in found:
            why = refusal(result["host"])
            if why is not None:
                raise ForbiddenAddress(f"{host} resolves to {result['host']}: {why}")
        return found

    async def close(self) -> None:
        await self._inner.close()


def guarded_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """The connector's socket factory: no socket for an address that is not public."""
    family, kind, proto, _, sockaddr = addr_info
    why = refusal(str(sockaddr[0]))
    if why is not None:
        raise ForbiddenAddress(why)
    return socket.socket(family=family, type=kind, proto=proto)


def connector(*, limit: int, allow_private: bool,
              resolver: AbstractResolver | None = None) -> aiohttp.TCPConnector:
    """The delivery task's connector: guarded unless private networks are allowed."""
    if allow_private:
        return aiohttp.TCPConnector(limit=limit, resolver=resolver)
    return aiohttp.TCPConnector(limit=limit, resolver=GuardedResolver(resolver),
                                socket_factory=guarded_socket)
