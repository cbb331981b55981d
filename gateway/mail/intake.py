"""Settings in, the configured ways in for e-mail running under the gateway's supervisor.

Why here and not in app.py: the gateway calls one function; which intakes
exist, how their settings map and how TLS is loaded stay with the mail
package. Both are off by default (GATEWAY_MAIL_SMTP_ENABLED,
GATEWAY_MAIL_IMAP_HOST), so a gateway without them runs exactly as before.

Under the supervisor (gateway/tasks.py) the listener's bind failing
(OSError: the port is taken) is retried with backoff like any network
fault; the IMAP poller logs its own failures and polls again (imap_poll.py).
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass

import asyncpg

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.mail.imap_box import ImapConfig
from gateway.mail.imap_poll import ImapPoller
from gateway.mail.listener import SmtpListener, listener_config
from gateway.tasks import Supervisor

log = get_logger("gateway.mail.intake")

IMAP_PORTS = {"tls": 993, "starttls": 143, "none": 143}


@dataclass(slots=True)
class MailIntake:
    listener: SmtpListener | None = None
    poller: ImapPoller | None = None


def start_mail_intake(settings: Settings, pool: asyncpg.Pool,
                      supervisor: Supervisor) -> MailIntake:
    intake = MailIntake(listener=smtp_listener(settings, pool),
                        poller=imap_poller(settings, pool))
    if intake.listener is not None:
        supervisor.run("mail-smtp", intake.listener.run)
    if intake.poller is not None:
        supervisor.run("mail-imap", intake.poller.run)
    return intake


def smtp_listener(settings: Settings, pool: asyncpg.Pool) -> SmtpListener | None:
    if not settings.mail_smtp_enabled:
        return None
    tls = None
    if settings.mail_smtp_tls_cert is not None and settings.mail_smtp_tls_key is not None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(settings.mail_smtp_tls_cert, settings.mail_smtp_tls_key)
    return SmtpListener(pool, listener_config(
        host=settings.mail_smtp_host, port=settings.mail_smtp_port,
        hostname=settings.mail_smtp_hostname or settings.instance_name,
        contact_addresses=settings.mail_contact_addresses,
        max_message_bytes=settings.mail_max_message_bytes,
        max_attachment_bytes=settings.mail_max_attachment_bytes, tls=tls))


def imap_poller(settings: Settings, pool: asyncpg.Pool) -> ImapPoller | None:
    if not settings.mail_imap_host or settings.mail_imap_password is None:
        return None
    if settings.mail_imap_security == "none" and not is_loopback(settings.mail_imap_host):
        log.warning("mail_imap_without_tls", host=settings.mail_imap_host,
                    hint="the password and the mail cross the network in clear")
    config = ImapConfig(
        host=settings.mail_imap_host,
        port=settings.mail_imap_port or IMAP_PORTS[settings.mail_imap_security],
        security=settings.mail_imap_security, user=settings.mail_imap_user,
        password=settings.mail_imap_password.get_secret_value(),
        folder=settings.mail_imap_folder, done_folder=settings.mail_imap_done_folder,
        timeout=settings.mail_imap_timeout, ca_file=settings.mail_imap_ca_file)
    return ImapPoller(pool, config, interval=settings.mail_imap_poll_interval,
                      max_message_bytes=settings.mail_max_message_bytes,
                      max_attachment_bytes=settings.mail_max_attachment_bytes,
                      own_addresses=settings.mail_contact_addresses)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"
