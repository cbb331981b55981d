"""SMTP submission to the campaign's mail provider, and what its answers mean for a row.

Why aiosmtplib: the maintained asyncio SMTP client, typed, with STARTTLS,
implicit TLS and AUTH; the gateway sends on its own event loop, no thread.
The sender (sender.py) drives MAIL, RCPT and DATA one by one rather than
`send_message`, because it records in the row that DATA is about to start
(store `mark_data`) between RCPT and DATA: that mark is what tells a resend
after a crash from a duplicate.

The answers, by SMTP's own classes (RFC 5321 4.2.1):
- 2xx to DATA: sent.
- 4xx at any step: the server refuses for now; the row is retried later
  with backoff, and fails after GATEWAY_MAIL_OUT_MAX_ATTEMPTS attempts.
- 5xx at any step: refused for good; the row fails at once.
- The connection lost or silent before DATA: nothing was taken; the row is
  given back (its attempt does not count) with the connection's backoff.
- The connection lost or silent during DATA: the server may have the whole
  message. The row is sent again (it is *unsure*: docs/email.md).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from enum import Enum
from typing import Literal

import aiosmtplib

Security = Literal["starttls", "tls", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}

# What makes a connection unusable: refused, reset, timed out, TLS or login
# refused (a response error while connecting), or a server gone mid-session.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    aiosmtplib.SMTPException, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class SubmissionConfig:
    host: str
    port: int
    security: Security
    user: str  # '' : no AUTH
    password: str | None
    timeout: float
    local_hostname: str  # the name given in EHLO
    tls: ssl.SSLContext | None = None  # None: the system's trusted CAs

    def __post_init__(self) -> None:
        if self.user and self.password is None:
            raise ValueError("an SMTP user needs a password")


async def connect(config: SubmissionConfig) -> aiosmtplib.SMTP:
    """An open, greeted (EHLO), encrypted as configured and logged-in session.

    STARTTLS configured but not offered by the server is an error: the
    password and the mail never cross the network in clear by surprise.
    """
    client = aiosmtplib.SMTP(
        hostname=config.host, port=config.port, timeout=config.timeout,
        use_tls=config.security == "tls", start_tls=config.security == "starttls",
        tls_context=config.tls if config.security != "none" else None,
        username=config.user or None, password=config.password if config.user else None,
        local_hostname=config.local_hostname)
    await client.connect()
    return client


class Verdict(Enum):
    RETRY = "retry"  # refused for now (4xx)
    FAIL = "fail"  # refused for good (5xx), or an answer SMTP does not define here


@dataclass(frozen=True, slots=True)
class Refusal:
    verdict: Verdict
    error: str  # for the row's last_error: the step, the code and the server's words


def refusal(step: str, code: int, message: str) -> Refusal:
    """The server's answer to MAIL, RCPT or DATA that was not a success."""
    verdict = Verdict.RETRY if 400 <= code < 500 else Verdict.FAIL
    words = " ".join(message.split())[:300]
    return Refusal(verdict, f"{step} refused: {code} {words}".rstrip())


def response_text(response: aiosmtplib.SMTPResponse) -> str:
    """The 250's code and words, kept as the row's smtp_response (the provider's queue id)."""
    return f"{response.code} {' '.join(response.message.split())}"[:500]
