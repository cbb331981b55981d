"""Settings in, the e-mail sender running under the gateway's supervisor as `mail-out`.

Why here and not in app.py: the gateway calls one function; how the
submission settings map and how TLS is trusted stay with the mail package
(as intake.py does for the ways in). Off unless GATEWAY_MAIL_OUT_HOST is set:
a gateway without it runs as before, and queued mail waits in the outbox.
"""

from __future__ import annotations

import ssl

import asyncpg

from gateway.clock import Clock
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.mail.intake import is_loopback
from gateway.mail.pacing import DomainPacer
from gateway.mail.sender import MailSender, SenderConfig
from gateway.mail.submission import DEFAULT_PORTS, SubmissionConfig
from gateway.metrics import Metrics
from gateway.tasks import Supervisor

log = get_logger("gateway.mail.mail_out")
TASK_NAME = "mail-out"


def start_mail_out(settings: Settings, pool: asyncpg.Pool, supervisor: Supervisor,
                   metrics: Metrics, clock: Clock) -> MailSender | None:
    sender = mail_sender(settings, pool, metrics, clock)
    if sender is not None:
        supervisor.run(TASK_NAME, sender.run)
    return sender


def mail_sender(settings: Settings, pool: asyncpg.Pool, metrics: Metrics,
                clock: Clock) -> MailSender | None:
    """The configured sender, or None without GATEWAY_MAIL_OUT_HOST."""
    submission = submission_config(settings)
    if submission is None:
        return None
    if submission.security == "none" and not is_loopback(submission.host):
        log.warning("mail_out_without_tls", host=submission.host,
                    hint="the login and every message cross the network in clear")
    config = SenderConfig(
        owner=settings.instance_name, batch_size=settings.mail_out_batch_size,
        max_attempts=settings.mail_out_max_attempts,
        default_from_name=settings.mail_from_name, timeout=settings.mail_out_timeout,
        retry_min=settings.mail_out_retry_min, retry_max=settings.mail_out_retry_max)
    pacer = DomainPacer(settings.mail_out_domain_rate, settings.mail_out_domain_rates,
                        lambda: clock().timestamp())
    return MailSender(pool, submission, config, pacer=pacer, metrics=metrics, clock=clock)


def submission_config(settings: Settings) -> SubmissionConfig | None:
    if not settings.mail_out_host:
        return None
    tls = None
    if settings.mail_out_ca_file is not None:
        tls = ssl.create_default_context(cafile=str(settings.mail_out_ca_file))
    password = settings.mail_out_password
    return SubmissionConfig(
        host=settings.mail_out_host,
        port=settings.mail_out_port or DEFAULT_PORTS[settings.mail_out_security],
        security=settings.mail_out_security, user=settings.mail_out_user,
        password=password.get_secret_value() if password is not None else None,
        timeout=settings.mail_out_timeout,
        local_hostname=settings.mail_smtp_hostname or settings.instance_name, tls=tls)
