"""The demo's mailboxes: one directory of .eml files per citizen address, read and written here.

Why files: the demo's outgoing-mail sink (demo_sink.py, its own process under
`make demo`) and the web process that shows the mailbox page share nothing
but a directory (GATEWAY_MAIL_DEMO_MAILBOX), and what is there survives a page
reload and a restart. Each message is the bytes as the sink received them,
with `Return-Path` and `Delivered-To` in front as a delivering server adds
them; what the newcomer writes from the page is kept beside them (`sent-`),
so the page shows both sides of a thread. Nothing here is used outside a demo.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import quote, unquote

import aiosmtplib

from gateway.email_address import normalize_email
from gateway.mail.compose import message_bytes, new_message
from gateway.outgoing_mail import domain_of, new_message_id

NAME = re.compile(r"(?:in|sent)-\d{19}-\d{6}\.eml")  # a message file, and nothing else
_sequence = itertools.count()
SUBMIT_TIMEOUT = 10.0  # seconds: the listener is on this machine


@dataclass(frozen=True, slots=True)
class Letter:
    """One message of a mailbox, decoded for the page (the text part, never HTML)."""

    name: str
    sent: bool  # written by the citizen from the page (True), or received from the gateway
    from_: str
    to: str
    subject: str
    date: datetime | None
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    reply_to: str
    auto_submitted: str
    list_unsubscribe: str
    text: str
    has_html: bool

    @property
    def answer_to(self) -> str:
        """Where a reply goes: Reply-To, else From (the address part)."""
        found = _addresses(self.reply_to) or _addresses(self.from_)
        return found[0] if found else ""


def mailbox_dir(root: Path, address: str) -> Path:
    """The address's directory; the name is quoted so no address can climb out of `root`."""
    return root / quote(normalize_email(address), safe="@.+-_")


def deliver(root: Path, address: str, raw: bytes, *, envelope_from: str) -> Path:
    """Store a message the sink received for `address`, as a delivering server would."""
    trace = (f"Return-Path: <{envelope_from}>\r\n"
             f"Delivered-To: {normalize_email(address)}\r\n").encode()
    return _write(mailbox_dir(root, address), "in", trace + raw)


def keep_sent(root: Path, address: str, message: EmailMessage) -> Path:
    """Keep a copy of what the citizen `address` sent, in their own mailbox."""
    return _write(mailbox_dir(root, address), "sent", message_bytes(message))


def addresses(root: Path) -> list[tuple[str, int]]:
    """Every mailbox with mail: (address, number of messages), by address."""
    if not root.is_dir():
        return []
    found = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir():
            count = sum(1 for f in entry.iterdir() if NAME.fullmatch(f.name))
            if count:
                found.append((unquote(entry.name), count))
    return found


def letters(root: Path, address: str) -> list[Letter]:
    """The mailbox's messages, oldest first (file names begin with the arrival time)."""
    directory = mailbox_dir(root, address)
    if not directory.is_dir():
        return []
    names = sorted((f.name for f in directory.iterdir() if NAME.fullmatch(f.name)),
                   key=lambda n: n.split("-", 1)[1])
    return [_read(directory / name) for name in names]


def letter(root: Path, address: str, name: str) -> Letter | None:
    if not NAME.fullmatch(name):
        return None
    path = mailbox_dir(root, address) / name
    return _read(path) if path.is_file() else None


def citizen_mail(*, citizen: str, to: str, subject: str, text: str,
                 answering: Letter | None = None) -> EmailMessage:
    """What the citizen writes: new, or a reply threaded onto `answering`."""
    references: tuple[str, ...] = ()
    in_reply_to = None
    if answering is not None:
        in_reply_to = answering.message_id or None
        references = (*answering.references, answering.message_id)
    return new_message(
        from_address=citizen, from_name=None, to_address=to, to_name=None, subject=subject,
        text_body=text, message_id=new_message_id(domain_of(citizen)),
        date=datetime.now(UTC), in_reply_to=in_reply_to, references=references)


def reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


class SubmitFailed(Exception):
    """The listener did not take the mail; the message says what it answered."""


async def submit(host: str, port: int, message: EmailMessage) -> str:
    """Hand the citizen's mail to the gateway's SMTP listener; its answer (250 ...)."""
    sender = message["From"].addresses[0].addr_spec
    recipients = [a.addr_spec for a in message["To"].addresses]
    try:
        async with aiosmtplib.SMTP(hostname=host, port=port, timeout=SUBMIT_TIMEOUT,
                                   start_tls=False, local_hostname="demo-mailbox") as client:
            response = await client.sendmail(sender, recipients, message_bytes(message))
    except aiosmtplib.SMTPRecipientsRefused as err:
        raise SubmitFailed("; ".join(f"{r.code} {r.message}" for r in err.recipients)) from None
    except aiosmtplib.SMTPResponseException as err:
        raise SubmitFailed(f"{err.code} {err.message}") from None
    except (aiosmtplib.SMTPException, OSError) as err:
        raise SubmitFailed(f"cannot reach {host}:{port}: {err}") from None
    return response[1]


def _write(directory: Path, kind: str, raw: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{kind}-{time.time_ns():019d}-{next(_sequence) % 1_000_000:06d}.eml"
    partial = directory / f".{name}.tmp"
    partial.write_bytes(raw)
    os.replace(partial, directory / name)  # a reader never sees half a message
    return directory / name


def _read(path: Path) -> Letter:
    message = BytesParser(policy=default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(("plain",))
    text = text_part.get_content() if text_part is not None else ""
    date = message["Date"]
    return Letter(
        name=path.name, sent=path.name.startswith("sent-"), from_=str(message["From"] or ""),
        to=str(message["To"] or ""), subject=str(message["Subject"] or ""),
        date=getattr(date, "datetime", None), message_id=str(message["Message-ID"] or ""),
        in_reply_to=str(message["In-Reply-To"] or ""),
        references=tuple(str(message["References"] or "").split()),
        reply_to=str(message["Reply-To"] or ""),
        auto_submitted=str(message["Auto-Submitted"] or ""),
        list_unsubscribe=str(message["List-Unsubscribe"] or ""),
        text=str(text).replace("\r\n", "\n"), has_html=message.get_body(("html",)) is not None)


def _addresses(header: str) -> list[str]:
    return [address for _, address in getaddresses([header]) if "@" in address]
