"""IMAP polling against a real Dovecot, installed from the distribution's packages.

Dovecot runs unprivileged (as `nobody` when the tests run as root, else as
the current user) on loopback ports, with a configuration, a password file
and maildirs in a temporary directory, and a throwaway self-signed
certificate for IMAPS and STARTTLS. Without Dovecot (`apt-get install
dovecot-imapd`) these tests skip, saying so.
"""

from __future__ import annotations

import asyncio
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from gateway.app import Gateway
from gateway.config import Settings
from gateway.mail.imap_box import ImapConfig, ImapError
from gateway.mail.imap_poll import ImapPoller
from gateway.smpp.simulator import SmscSimulator
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway, wait_for
from tests.support.mail_messages import SUBJECT, dsn, french_html_with_attachment

DOVECOT = shutil.which("dovecot") or next(
    (p for p in ("/usr/sbin/dovecot",) if os.access(p, os.X_OK)), None)
USER, PASSWORD = "campaign", "s3cret-imap"

CONFIG = """
base_dir = {d}/run
state_dir = {d}/state
instance_name = gateway-test-{imap}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
mail_location = maildir:{d}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={d}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    directory: Path
    imap_port: int
    imaps_port: int
    cert: Path | None
    process: subprocess.Popen[bytes]

    def config(self, *, security: str = "none", folder: str = "INBOX",
               done_folder: str | None = None) -> ImapConfig:
        port = self.imaps_port if security == "tls" else self.imap_port
        return ImapConfig(host="127.0.0.1", port=port, security=security,  # type: ignore[arg-type]
                          user=USER, password=PASSWORD, folder=folder, done_folder=done_folder,
                          timeout=10, ca_file=self.cert)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, folder: str, *messages: bytes) -> None:
        with self.client() as client:
            for raw in messages:
                status, data = client.append(folder, None, None, raw)
                assert status == "OK", data

    def folder(self, name: str) -> list[tuple[bytes, str]]:
        """(bytes, flags) of every message in the folder, by UID."""
        with self.client() as client:
            status, _ = client.select(f'"{name}"', readonly=True)
            assert status == "OK"
            _, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
            found = []
            for item in data:
                if isinstance(item, tuple):
                    found.append((item[1], item[0].decode()))
            return found

    def run(self, *commands: tuple[str, ...]) -> None:
        with self.client() as client:
            for name, *args in commands:
                status, data = getattr(client, name)(*args)
                assert status == "OK", (name, data)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _certificate(directory: Path) -> Path | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")],
                   check=True, capture_output=True)
    return directory / "cert.pem"


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.1)
    process.kill()
    said = log.read_text(errors="replace") if log.exists() else ""
    raise RuntimeError(f"Dovecot did not start: {said[-2000:]}")


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if DOVECOT is None:
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd): the IMAP "
                    "polling tests need a real IMAP server")
    directory = Path(tempfile.mkdtemp(prefix="gateway-dovecot-"))
    directory.chmod(0o755)
    try:
        as_root = os.geteuid() == 0
        account = pwd.getpwnam("nobody") if as_root else pwd.getpwuid(os.geteuid())
        group = _group_name(account.pw_gid)
        cert = _certificate(directory)
        ssl_files = (f"ssl_cert = <{directory}/cert.pem\nssl_key = <{directory}/key.pem"
                     if cert else "")
        imap, imaps = _free_port(), _free_port()
        (directory / "dovecot.conf").write_text(CONFIG.format(
            d=directory, imap=imap, imaps=imaps, user=account.pw_name, group=group,
            ssl="yes" if cert else "no", ssl_files=ssl_files))
        (directory / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        if as_root:  # Dovecot refuses root for mail; it runs as nobody and owns its files
            for path in [directory, *directory.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(directory / "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            user=account.pw_uid if as_root else None,
            group=account.pw_gid if as_root else None,
            extra_groups=[] if as_root else None)
        try:
            _wait_listening(imap, process, directory / "dovecot.log")
            yield Dovecot(directory, imap, imaps, cert, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _group_name(gid: int) -> str:
    import grp
    return grp.getgrgid(gid).gr_name


folder_numbers = iter(range(1, 1_000_000))


@pytest.fixture
def folder(dovecot: Dovecot) -> str:
    """A folder of this test's own (the Dovecot server is shared by the module's tests)."""
    name = f"Contact{next(folder_numbers)}"
    dovecot.run(("create", f'"{name}"'))
    return name


def poller(pool: asyncpg.Pool, config: ImapConfig, *, max_bytes: int = 25_000_000) -> ImapPoller:
    return ImapPoller(pool, config, interval=0.1, max_message_bytes=max_bytes,
                      max_attachment_bytes=10_000_000,
                      own_addresses=["contact@campagne.example"])


def auto_reply() -> bytes:
    msg = EmailMessage()
    msg["Return-Path"] = "<>"
    msg["From"] = "absent@example.org"
    msg["To"] = "contact@campagne.example"
    msg["Subject"] = "Réponse automatique"
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("Absent.")
    return msg.as_bytes(policy=SMTP)


async def stored(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch(
        "SELECT intake, subject, kind, never_answer, bounced_addresses, raw, peer "
        "FROM mail_inbound ORDER BY id"))


async def test_a_poll_stores_each_new_message_once_and_leaves_the_mailbox_as_it_was(
        dovecot: Dovecot, folder: str, pool: asyncpg.Pool) -> None:
    french = french_html_with_attachment()
    bounce = b"Return-Path: <>\r\n" + dsn()
    dovecot.append(folder, french, bounce, auto_reply())
    imap = poller(pool, dovecot.config(folder=folder))
    first = await imap.poll_once()
    assert (first.stored, first.already_stored) == (3, 0)
    rows = await stored(pool)
    assert [(r["intake"], r["kind"], r["never_answer"]) for r in rows] == [
        ("imap", "normal", None), ("imap", "bounce", "bounce"),
        ("imap", "auto_reply", "auto_reply")]
    assert rows[0]["subject"] == SUBJECT and bytes(rows[0]["raw"]) == french
    assert rows[1]["bounced_addresses"] == ["citizen@example.org"]
    assert rows[0]["peer"] == f"{USER}@127.0.0.1/{folder}"
    # nothing new: nothing stored; a new message: only it
    assert (await imap.poll_once()).stored == 0
    dovecot.append(folder, b"From: b@example.org\r\nSubject: encore\r\n\r\nmerci\r\n")
    assert (await imap.poll_once()).stored == 1
    assert len(await stored(pool)) == 4
    # still there, still unread for the people who read this mailbox
    left = dovecot.folder(folder)
    assert len(left) == 4 and not any("\\Seen" in flags for _, flags in left)


async def test_a_crash_between_storing_and_moving_never_stores_twice(
        dovecot: Dovecot, folder: str, pool: asyncpg.Pool) -> None:
    dovecot.append(folder, french_html_with_attachment(), auto_reply())
    done = f"{folder}-stored"
    imap = poller(pool, dovecot.config(folder=folder, done_folder=done))
    # the done folder does not exist yet: the move fails after the messages were stored
    with pytest.raises(ImapError, match="UID MOVE"):
        await imap.poll_once()
    assert len(await stored(pool)) == 2
    dovecot.run(("create", f'"{done}"'))
    again = await imap.poll_once()
    assert (again.stored, again.moved) == (0, 2)
    assert dovecot.folder(folder) == []
    assert len(dovecot.folder(done)) == 2
    assert len(await stored(pool)) == 2
    assert (await imap.poll_once()).moved == 0


async def test_a_new_uidvalidity_brings_the_same_messages_again_without_duplicates(
        dovecot: Dovecot, folder: str, pool: asyncpg.Pool) -> None:
    messages = (french_html_with_attachment(), auto_reply())
    dovecot.append(folder, *messages)
    imap = poller(pool, dovecot.config(folder=folder))
    assert (await imap.poll_once()).stored == 2
    # the folder is deleted and made again (UIDVALIDITY changes, UIDs restart at 1)
    dovecot.run(("delete", f'"{folder}"'), ("create", f'"{folder}"'))
    dovecot.append(folder, *messages)
    again = await imap.poll_once()
    assert (again.stored, again.already_stored) == (0, 2)
    assert len(await stored(pool)) == 2
    assert await pool.fetchval("SELECT count(DISTINCT uidvalidity) FROM mail_imap_uids") == 2


async def test_a_message_over_the_size_limit_is_left_in_the_mailbox_and_noted(
        dovecot: Dovecot, folder: str, pool: asyncpg.Pool) -> None:
    big = b"From: a@example.org\r\nSubject: big\r\n\r\n" + (b"x" * 76 + b"\r\n") * 100
    dovecot.append(folder, big, b"From: a@example.org\r\nSubject: small\r\n\r\nok\r\n")
    done = f"{folder}-stored"
    dovecot.run(("create", f'"{done}"'))
    imap = poller(pool, dovecot.config(folder=folder, done_folder=done), max_bytes=4000)
    result = await imap.poll_once()
    assert (result.stored, result.skipped, result.moved) == (1, 1, 1)
    assert [r["subject"] for r in await stored(pool)] == ["small"]
    [(left, _)] = dovecot.folder(folder)
    assert left == big
    skipped = await pool.fetchval("SELECT skipped FROM mail_imap_uids WHERE skipped IS NOT NULL")
    assert skipped.startswith("too big")


async def test_imaps_and_starttls_with_a_private_ca(
        dovecot: Dovecot, folder: str, pool: asyncpg.Pool) -> None:
    if dovecot.cert is None:
        pytest.skip("openssl is not installed: no certificate for the TLS tests")
    dovecot.append(folder, auto_reply())
    assert (await poller(pool, dovecot.config(security="tls", folder=folder)).poll_once()
            ).stored == 1
    dovecot.append(folder, b"From: a@example.org\r\nSubject: starttls\r\n\r\nok\r\n")
    assert (await poller(pool, dovecot.config(security="starttls", folder=folder)).poll_once()
            ).stored == 1
    # without the private CA the server is not trusted: nothing is read
    untrusted = replace(dovecot.config(security="tls", folder=folder), ca_file=None)
    with pytest.raises(ssl.SSLCertVerificationError):
        await poller(pool, untrusted).poll_once()


async def test_a_failing_mailbox_is_polled_again_not_fatal(
        dovecot: Dovecot, folder: str, pool: asyncpg.Pool) -> None:
    dovecot.append(folder, auto_reply())
    imap = poller(pool, replace(dovecot.config(folder=folder), password="wrong"))
    task = asyncio.create_task(imap.run())
    try:
        async def failed() -> bool:
            return imap.failed_polls >= 1

        await wait_for(failed, within=30)
        assert not task.done() and await stored(pool) == []
        imap.config = dovecot.config(folder=folder)  # the operator fixes the password

        async def arrived() -> bool:
            return len(await stored(pool)) == 1

        await wait_for(arrived, within=30)
        assert imap.failed_polls == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def imap_gateway(settings: Settings, smsc: SmscSimulator, dovecot: Dovecot,
                       folder: str) -> AsyncIterator[Gateway]:
    enabled = gateway_settings(
        settings, smsc, mail_imap_host="127.0.0.1", mail_imap_port=dovecot.imap_port,
        mail_imap_security="none", mail_imap_user=USER, mail_imap_password=SecretStr(PASSWORD),
        mail_imap_folder=folder, mail_imap_poll_interval=0.2)
    gw = await running_gateway(enabled, smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


async def test_the_gateway_polls_the_mailbox_when_configured(
        imap_gateway: Gateway, dovecot: Dovecot, folder: str) -> None:
    assert imap_gateway.mail.poller is not None
    dovecot.append(folder, b"From: a@example.org\r\nSubject: par IMAP\r\n\r\nbonjour\r\n")

    async def arrived() -> bool:
        return bool(await imap_gateway.pool.fetchval("SELECT count(*) FROM mail_inbound"))

    await wait_for(arrived, within=10)
    assert (await imap_gateway.health())["tasks"]["mail-imap"] == "running"
