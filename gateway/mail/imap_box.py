"""One IMAP session on one folder, blocking: the few commands the poller needs.

Why the standard library's `imaplib`, run in a thread (imap_poll.py): it is
maintained with Python itself, typed (typeshed), speaks IMAPS and STARTTLS
with an `ssl.SSLContext`, and polling once a minute needs no concurrency:
one short session per poll, a few commands each. The asyncio alternative
(aioimaplib) is maintained too, but is one more dependency, untyped, and its
gain (no thread) does not matter at this rate.

Every command is by UID, so a message keeps its identity across sessions;
bodies are fetched with `BODY.PEEK[]`, which leaves the \\Seen flag alone:
the people who read the mailbox see what they saw before.
"""

from __future__ import annotations

import imaplib
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

Security = Literal["tls", "starttls", "none"]
SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
MOVE_CHUNK = 200


class ImapError(Exception):
    """The server refused a command; the message says which and what it answered."""


@dataclass(frozen=True, slots=True)
class ImapConfig:
    host: str
    port: int
    security: Security
    user: str
    password: str
    folder: str
    done_folder: str | None
    timeout: float
    ca_file: Path | None = None

    @property
    def mailbox(self) -> str:
        """What names this folder in our records: user@host/folder (not the port: moving
        from IMAPS to STARTTLS is the same mailbox, and must not bring its mail again)."""
        return f"{self.user}@{self.host.lower()}/{self.folder}"


def quoted(name: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib sends arguments as given)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapFolder:
    """`with ImapFolder(config) as box:` logs in and selects the folder; leaving logs out."""

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self._conn: imaplib.IMAP4 | None = None
        self.uidvalidity = 0
        self.capabilities: frozenset[str] = frozenset()

    def __enter__(self) -> ImapFolder:
        self.open()
        return self

    def open(self) -> None:
        """Connect, log in and select the folder (read-write: the done folder needs it)."""
        config = self.config
        context = ssl.create_default_context(
            cafile=str(config.ca_file) if config.ca_file else None)
        if config.security == "tls":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                config.host, config.port, ssl_context=context, timeout=config.timeout)
        else:
            conn = imaplib.IMAP4(config.host, config.port, timeout=config.timeout)
        self._conn = conn
        try:
            if config.security == "starttls":
                conn.starttls(ssl_context=context)
            conn.login(config.user, config.password)
            status, data = conn.capability()  # the list before login may lack MOVE, UIDPLUS
            _ok("CAPABILITY", status, data)
            self.capabilities = frozenset(
                word.upper() for line in data if isinstance(line, bytes)
                for word in line.decode("ascii", "replace").split())
            status, data = conn.select(quoted(config.folder))
            _ok("SELECT", status, data)
            _, codes = conn.response("UIDVALIDITY")
            value = codes[-1] if codes else None
            if not (isinstance(value, bytes) and value.isdigit()):
                raise ImapError(f"SELECT {config.folder}: the server gave no UIDVALIDITY")
            self.uidvalidity = int(value)
        except BaseException:
            self.close()
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    @property
    def conn(self) -> imaplib.IMAP4:
        assert self._conn is not None, "use ImapFolder as a context manager"
        return self._conn

    def uids_after(self, last: int) -> list[int]:
        """UIDs above `last`, ascending (`n:*` also names the highest UID: dropped here)."""
        status, data = self.conn.uid("SEARCH", f"UID {last + 1}:*")
        _ok("UID SEARCH", status, data)
        found = [int(uid) for line in data if isinstance(line, bytes) for uid in line.split()]
        return sorted(uid for uid in set(found) if uid > last)

    def size(self, uid: int) -> int | None:
        status, data = self.conn.uid("FETCH", str(uid), "(RFC822.SIZE)")
        _ok("UID FETCH RFC822.SIZE", status, data)
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if isinstance(line, bytes) and (found := SIZE.search(line)):
                return int(found.group(1))
        return None  # expunged meanwhile

    def body(self, uid: int) -> bytes | None:
        """The message's bytes, leaving \\Seen as it was; None when it is gone."""
        status, data = self.conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
        _ok("UID FETCH BODY.PEEK[]", status, data)
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None

    def move(self, uids: list[int], folder: str) -> None:
        """UID MOVE (RFC 6851), else COPY + \\Deleted + UID EXPUNGE (RFC 4315)."""
        capabilities = self.capabilities
        for start in range(0, len(uids), MOVE_CHUNK):
            chunk = ",".join(str(uid) for uid in uids[start:start + MOVE_CHUNK])
            if "MOVE" in capabilities:
                status, data = self.conn.uid("MOVE", chunk, quoted(folder))
                _ok(f"UID MOVE to {folder}", status, data)
            elif "UIDPLUS" in capabilities:
                status, data = self.conn.uid("COPY", chunk, quoted(folder))
                _ok(f"UID COPY to {folder}", status, data)
                status, data = self.conn.uid("STORE", chunk, "+FLAGS.SILENT", r"(\Deleted)")
                _ok("UID STORE \\Deleted", status, data)
                status, data = self.conn.uid("EXPUNGE", chunk)
                _ok("UID EXPUNGE", status, data)
            else:
                raise ImapError("the server has neither MOVE nor UIDPLUS: messages cannot be "
                                "moved safely; unset GATEWAY_MAIL_IMAP_DONE_FOLDER")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.logout()  # not CLOSE: it would expunge what people marked deleted
        except (imaplib.IMAP4.error, OSError):
            conn.shutdown()


def _ok(command: str, status: str, data: Sequence[object]) -> None:
    if status != "OK":
        said = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise ImapError(f"{command}: {status} {said}".strip())
