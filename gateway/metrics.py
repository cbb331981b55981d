"""The gateway's Prometheus instruments, on a registry owned by one app instance.

Why not prometheus_client's global registry: tests (and the benchmark) build
several apps in one process, and the global registry refuses a second
instrument with the same name. Each `Metrics` carries its own registry, and
the web layer renders exactly that one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# From "fast enough to feel instant" to "a supporter notices": 5 ms .. 5 s.
MO_TO_MT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.mo_received = Counter(
            "gateway_mo_received", "MO texts received from the SMSC", registry=r
        )
        self.mo_committed = Counter(
            "gateway_mo_committed", "MO texts committed (and then acknowledged)", registry=r
        )
        self.mo_redelivered = Counter(
            "gateway_mo_redelivered",
            "MOs the SMSC delivered again after we stored them: acknowledged, not decided again",
            registry=r,
        )
        self.mt_queued = Counter("gateway_mt_queued", "MT texts written to the outbox", registry=r)
        self.mt_submitted = Counter(
            "gateway_mt_submitted", "MT texts accepted by the SMSC (submit_sm_resp OK)", registry=r
        )
        self.mt_failed = Counter(
            "gateway_mt_failed", "MT texts that failed for good (rejected or expired)", registry=r
        )
        self.mt_suppressed = Counter(
            "gateway_mt_suppressed",
            "queued MT texts dropped before submit (recipient opted out since)",
            registry=r,
        )
        self.mo_unknown_shortcode = Counter(
            "gateway_mo_unknown_shortcode",
            "MO texts sent to a short code no program in keywords.yaml names", registry=r
        )
        self.dlr_received = Counter(
            "gateway_dlr_received", "delivery receipts received", registry=r
        )
        self.smpp_window_in_use = Gauge(
            "gateway_smpp_window_in_use", "submit_sm requests awaiting a response", registry=r
        )
        self.smpp_bound = Gauge(
            "gateway_smpp_bound", "1 while the SMPP session is bound", registry=r
        )
        # The voice line (gateway/voice/): calls, where callers went, who hung up first.
        self.voice_calls = Counter(
            "gateway_voice_calls", "calls the voice line answered", registry=r
        )
        self.voice_branches = Counter(
            "gateway_voice_branches",
            "choices callers made on the voice line (message, support, question, "
            "donation_link, sms_opt_in, theme, recorded, goodbye)",
            ["branch"], registry=r,
        )
        self.voice_abandoned = Counter(
            "gateway_voice_calls_abandoned",
            "calls that ended before the caller reached a branch's end (the message played, "
            "the donation link texted or the opt-in done, a question recorded)", registry=r
        )
        self.voice_refused = Counter(
            "gateway_voice_requests_refused",
            "voice webhook requests refused: unsigned or wrongly signed (403), unreadable (400)",
            ["reason"], registry=r,
        )
        self.voice_recordings = Counter(
            "gateway_voice_recordings",
            "recorded questions downloaded from the provider (stored) or given up (failed)",
            ["outcome"], registry=r,
        )
        self.mo_to_mt_seconds = Histogram(
            "gateway_mo_to_mt_seconds",
            "time from an MO's arrival to the submit of its first reply",
            buckets=MO_TO_MT_BUCKETS,
            registry=r,
        )

        # E-mail out (gateway/mail/sender.py)
        self.mail_sent = Counter(
            "gateway_mail_sent", "e-mails the submission server accepted (250 to DATA)",
            registry=r)
        self.mail_failed = Counter(
            "gateway_mail_failed", "e-mails that failed for good (5xx, or out of attempts)",
            registry=r)
        self.mail_retried = Counter(
            "gateway_mail_retried", "e-mail attempts to be tried again later (4xx, or the "
            "connection lost)", registry=r)
        self.mail_suppressed = Counter(
            "gateway_mail_suppressed", "queued e-mails not sent (a bounced or unsubscribed "
            "address)", registry=r)
        self.mail_unsure = Counter(
            "gateway_mail_unsure", "e-mails sent again after an attempt that may have "
            "delivered them (same Message-ID)", registry=r)
        self.mail_queued = Gauge(
            "gateway_mail_queued", "e-mails waiting in the outbox (due or later)", registry=r)

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
