"""One settings object, built once at start-up and passed down.

Why a hand-rolled loader over pydantic-settings: we want every bad setting
reported in one message (an operator fixing a deployment should not play
whack-a-mole), environment names that match the README exactly, and an
optional TOML file underneath the environment. Nothing here reads the
environment at import time; `load_settings` takes the mapping explicitly so
tests build settings without touching `os.environ`.
"""

from __future__ import annotations

import base64
import binascii
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from gateway.email_address import EmailAddressError, normalize_email

BindMode = Literal["transceiver", "split"]


class ConfigError(Exception):
    """Raised with every problem found, one per line, so `gateway` exits 2 once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class Settings(BaseModel):
    """Every setting, with the description docs/configuration.md is generated from.

    `python -m gateway.config_reference` writes that page from these fields (name,
    type, default, constraints, description); tests/test_config_reference.py fails
    when the page is not current. A field without a description fails it too.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = Field(min_length=1, description=(
        "PostgreSQL connection URL (`postgresql://user:password@host:port/dbname`); the only "
        "required setting. Every instance of one deployment uses the same database."))
    # The SMPP link to the SMSC (gateway/smpp/client.py).
    smpp_host: str = Field("127.0.0.1", description="Host name or address of the SMSC.")
    smpp_port: int = Field(2775, ge=1, le=65535, description="TCP port of the SMSC.")
    smpp_system_id: str = Field("gateway", min_length=1, max_length=15, description=(
        "`system_id` of the bind: the account name the carrier gave you."))
    smpp_password: SecretStr = Field(SecretStr("secret"), description=(
        "Password of the bind. A secret: the default only suits the simulator."))
    smpp_system_type: str = Field("", max_length=12, description=(
        "`system_type` of the bind, if the carrier asks for one."))
    smpp_bind_mode: BindMode = Field("transceiver", description=(
        "`transceiver`: one bind sends and receives; `split`: a transmitter bind and a "
        "receiver bind."))
    smpp_window: int = Field(100, ge=1, le=10_000, description=(
        "Most submit_sm awaiting their submit_sm_resp at once; also bounds the MOs and "
        "receipts being handled and the outbox's messages in flight."))
    smpp_tps: float = Field(0.0, ge=0.0, description=(
        "submit_sm per second the short code may send, shared by every instance sending "
        "to it (each paces at this divided by the live instances). 0 means no cap."))
    smpp_submit_timeout: float = Field(10.0, gt=0, description=(
        "Seconds to wait for a submit_sm_resp (and for a connect) before the send's "
        "outcome counts as unknown."))
    smpp_enquire_link_interval: float = Field(30.0, gt=0, description=(
        "Seconds of silence from the SMSC after which an enquire_link is sent; one left "
        "unanswered this long drops the link, which is then reconnected."))
    smpp_reconnect_min: float = Field(0.5, gt=0, description=(
        "Seconds before the first reconnect; the jittered delay doubles from here."))
    smpp_reconnect_max: float = Field(30.0, gt=0, description=(
        "Longest delay in seconds between reconnects."))
    smpp_bind_refused_delay: float = Field(60.0, gt=0, description=(
        "Seconds to wait after the SMSC refuses the bind (bad credentials, too many "
        "binds) before trying again."))
    unsure_send_hold: float = Field(120.0, gt=0, description=(
        "Seconds a send whose outcome is unknown (cut off before its submit_sm_resp) waits "
        "for a receipt proving the SMSC took it, before it is sent again."))
    # What the gateway answers (gateway/engine, keywords.yaml).
    shortcode: str = Field("12345", pattern=r"^[0-9A-Za-z+]{3,16}$", description=(
        "Short code of an MO that names none, and the one the admin pages' contact views "
        "show; a program in the keywords file must run it, or the gateway refuses to start."))
    default_region: str = Field("US", pattern=r"^[A-Z]{2}$", description=(
        "ISO 3166 country whose national numbers staff may type in the admin pages "
        "(turned into E.164)."))
    keywords: Path = Field(Path("keywords.yaml"), description=(
        "The keywords file (docs/keywords.md). Re-read on SIGHUP or `POST "
        "/api/v1/keywords/reload`, on every instance; a file with problems is refused and "
        "the rules in force stay."))
    # HTTP: health, metrics, admin pages and API (gateway/web).
    http_host: str = Field("127.0.0.1", description=(
        "Address the HTTP server listens on (the Dockerfile sets `0.0.0.0`)."))
    http_port: int = Field(8080, ge=0, le=65535, description=(
        "Port of the HTTP server: /healthz, /metrics, the admin pages, the API and the "
        "webhooks. 0 picks a free port."))
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description=(
        "Least severe level logged; logs are JSON lines on stderr."))
    # Receiving MOs (gateway/pipeline/ingest.py).
    ingest_lanes: int = Field(4, ge=1, le=64, description=(
        "Parallel lanes deciding MOs; one number always goes to the same lane, so its texts "
        "are decided in order. The database pool holds this plus 8 connections."))
    ingest_batch: int = Field(256, ge=1, le=10_000, description=(
        "Most MOs one lane commits in one transaction (group commit)."))
    ingest_linger_ms: float = Field(2.0, ge=0, description=(
        "Milliseconds a lane waits for more MOs before committing a batch that is not full."))
    reassembly_timeout: float = Field(300.0, gt=0, description=(
        "Seconds after which the parts received of a long MO whose other parts never came "
        "are decided as they are."))
    mo_redelivery_window: float = Field(300.0, gt=0, description=(
        "Seconds within which an MO the SMSC sends again, whose acknowledgement it was not "
        "seen to read, is acknowledged and not decided again (docs/redelivery.md)."))
    migrate_on_start: bool = Field(True, description=(
        "Apply pending database migrations when `gateway run` starts (`--no-migrate` "
        "overrides it for one run)."))
    instance_name: str = Field("gateway-1", description=(
        "Unique per running instance: names its outbox leases, its share of the TPS and its "
        "database connections (application_name). See docs/multi-instance.md."))
    # Donations. Carrier billing: which aggregator layout marks a billed MT
    # (billing/aggregators.py PROFILES). Cards: Stripe, off unless a key is set.
    billing_aggregator: Literal["tariff_code", "amount_tlv", "smpp50"] = Field(
        "amount_tlv", description=(
            "How a billed MT is marked for the aggregator: `tariff_code` (service_type PSMS "
            "and a tariff code TLV), `amount_tlv` (amount and currency TLV) or `smpp50` "
            "(SMPP 5.0 billing_identification)."))
    billing_interval: float = Field(1.0, gt=0, description=(
        "Seconds between runs of the billing task, which charges confirmed donations, "
        "expires unconfirmed ones and settles billed MTs from their receipts."))
    stripe_secret_key: SecretStr | None = Field(None, description=(
        "Stripe API key. A secret. Unset: card gifts are refused with the `unavailable` "
        "text and no card is charged."))
    stripe_webhook_secret: SecretStr | None = Field(None, description=(
        "Signing secret of the Stripe webhook. A secret. `POST /webhooks/stripe` exists "
        "only when this and the API key are set."))
    stripe_api_base: str = Field("https://api.stripe.com", pattern=r"^https?://\S+$",
                                 description="Base URL of the Stripe API (tests point it "
                                             "at a fake).")
    stripe_checkout_success_url: str = Field("https://example.org/give/thanks", description=(
        "Page a donor's browser goes to after paying on a Stripe Checkout page."))
    stripe_checkout_cancel_url: str = Field("https://example.org/give/cancelled", description=(
        "Page a donor's browser goes to after leaving a Stripe Checkout page unpaid."))
    billing_tariff_codes: dict[int, str] = Field({}, description=(
        "The aggregator's tariff code for each price point, as JSON mapping cents to code: "
        '`{"500": "DON5", "1000": "DON10"}`. With `tariff_code`, a program\'s price point '
        "without a code stops the start (and a reload); the other layouts fall back to "
        "`DON<cents>`."))
    donor_details_url: str | None = Field(None, pattern=r"^https?://\S+$", description=(
        "Base URL of the donor-details form the details text links to. Unset: the "
        "committee's own site (its `terms_url`), which passes /give/details/ on to the "
        "gateway."))

    @field_validator("billing_tariff_codes", mode="before")
    @classmethod
    def _json_codes(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError('not JSON; write {"500": "DON5", "1000": "DON10"}') from None
        return value
    # Finance (gateway/finance).
    finance_mappings: Path | None = Field(None, description=(
        "TOML file of more settlement column mappings for `reconcile import-settlement` "
        "(it may override the built-in ones)."))
    finance_default_mapping: str = Field("carrier_default", description=(
        "The settlement column mapping used when none is named."))
    # Admin web (gateway/web/sessions.py, login_throttle.py, password_work.py).
    web_cookie_secure: bool = Field(True, description=(
        "Send the session cookie over HTTPS only. Turn off only for a local http demo."))
    web_cookie_samesite: Literal["Lax", "Strict"] = Field("Lax", description=(
        "SameSite attribute of the session cookie."))
    web_session_hours: float = Field(12.0, gt=0, le=24 * 30, description=(
        "Hours a login session lasts."))
    web_login_max_failures: int = Field(5, ge=1, description=(
        "Failed logins one e-mail may have from one address before each next try waits "
        "(1 s, doubling up to `GATEWAY_WEB_LOGIN_MAX_DELAY`)."))
    web_login_max_failures_per_client: int = Field(50, ge=1, description=(
        "Failed logins one address may have across all e-mails before each next try waits "
        "(up to `GATEWAY_WEB_LOGIN_CLIENT_MAX_DELAY`): against password spraying."))
    web_login_max_delay: float = Field(900.0, ge=1, description=(
        "Longest wait in seconds between tries for one e-mail from one address."))
    web_login_client_max_delay: float = Field(60.0, ge=1, description=(
        "Longest wait in seconds between tries from one address."))
    web_login_window: float = Field(900.0, gt=0, description=(
        "Seconds after its last wait after which an idle throttle key starts afresh."))
    web_password_workers: int = Field(2, ge=1, le=16, description=(
        "Threads hashing passwords (argon2)."))
    web_password_queue: int = Field(8, ge=0, le=1000, description=(
        "Logins that may wait for a hashing thread; any more get 429 at once."))
    web_token_days: int = Field(90, ge=1, le=3650, description=(
        "Days a new API token lives, and the most it may be given."))
    web_phone_simulator: int | None = Field(None, ge=1, le=65535, description=(
        "Phone port of the SMSC simulator on `GATEWAY_SMPP_HOST`: turns on the demo phone "
        "page (/phone). Leave unset in production, where the SMSC is a carrier's."))
    # Contact centre (gateway/web/api/inbox.py).
    questions_escalation_interval: float = Field(60.0, gt=0, description=(
        "Seconds between checks that escalate questions past their SLA to their theme's "
        "leads."))
    questions_answer_max_segments: int = Field(6, ge=1, le=20, description=(
        "Most SMS segments an expert's answer may take."))
    # Privacy (gateway/privacy/).
    privacy_hash_secret: SecretStr | None = Field(None, description=(
        "Key of the HMAC-SHA256 that keeps an erased number's opt-out. A secret; changing "
        "it forgets every kept opt-out. Unset: erasure is refused."))
    privacy_retention_days: int = Field(3 * 365, ge=30, description=(
        "Days a contact may stay idle before `gateway privacy retention --apply` erases it."))
    # E-mail in (gateway/mail/, docs/email.md): both ways in are off by default.
    mail_smtp_enabled: bool = Field(False, description=(
        "Run the inbound SMTP listener, which stores every message it accepts before "
        "answering 250 (docs/email.md)."))
    mail_smtp_host: str = Field("127.0.0.1", description=(
        "Address the SMTP listener listens on (`0.0.0.0` to take mail from the network)."))
    mail_smtp_port: int = Field(2525, ge=0, le=65535, description=(
        "Port of the SMTP listener (25 when it is the MX). 0 picks a free port."))
    mail_smtp_hostname: str | None = Field(None, description=(
        "Name the SMTP listener gives in its greeting (the host's public name); unset: the "
        "instance name."))
    mail_smtp_tls_cert: Path | None = Field(None, description=(
        "PEM certificate chain for STARTTLS on the SMTP listener; with the key, STARTTLS is "
        "offered."))
    mail_smtp_tls_key: Path | None = Field(None, validate_default=True, description=(
        "PEM private key of that certificate; the two go together."))
    mail_contact_addresses: list[str] = Field([], validate_default=True, description=(
        "The campaign's contact addresses, the only recipients the SMTP listener accepts "
        "(others get 550), comma-separated or a JSON list; required when it is enabled."))
    mail_max_message_bytes: int = Field(25_000_000, ge=1024, le=1_000_000_000, description=(
        "Largest message taken, in bytes: the SMTP listener answers 552 above it, the IMAP "
        "poller leaves such a message in the mailbox."))
    mail_max_attachment_bytes: int = Field(10_000_000, ge=0, description=(
        "Largest attachment kept decoded in mail_attachments, in bytes; a larger one is "
        "listed without its content (the raw message keeps it)."))
    mail_imap_host: str | None = Field(None, description=(
        "IMAP server of a mailbox to poll for mail; unset: no polling."))
    mail_imap_port: int | None = Field(None, ge=1, le=65535, description=(
        "Port of the IMAP server; unset: 993 for `tls`, 143 otherwise."))
    mail_imap_security: Literal["tls", "starttls", "none"] = Field("tls", description=(
        "`tls` (IMAPS), `starttls`, or `none` (plain text: for loopback only)."))
    mail_imap_ca_file: Path | None = Field(None, description=(
        "PEM file of a private CA the IMAP server's certificate is checked against; unset: "
        "the system's trusted CAs."))
    mail_imap_user: str = Field("", validate_default=True, description=(
        "Login of the polled mailbox; required with an IMAP host."))
    mail_imap_password: SecretStr | None = Field(None, validate_default=True, description=(
        "Password (or app password) of the polled mailbox. A secret; required with an IMAP "
        "host."))
    mail_imap_folder: str = Field("INBOX", min_length=1, description=(
        "Folder the new mail is taken from."))
    mail_imap_done_folder: str | None = Field(None, description=(
        "Folder stored messages are moved to (it must exist); unset: the mailbox is left as "
        "it is."))
    mail_imap_poll_interval: float = Field(60.0, gt=0, description=(
        "Seconds between two polls of the mailbox; a failed poll is tried again after it."))
    mail_imap_timeout: float = Field(30.0, gt=0, description=(
        "Seconds of silence from the IMAP server after which a poll counts as failed."))
    # The voice line (gateway/voice/, docs/voice.md): the provider's webhooks under /voice/.
    voice_enabled: bool = Field(False, description=(
        "Serve the voice line's webhooks under /voice/ (docs/voice.md); off: they are 404."))
    voice_auth_token: SecretStr | None = Field(None, validate_default=True, description=(
        "The voice provider's auth token (SignalWire: the project's Signing Key): every "
        "webhook's HMAC signature is checked with it (schemes twilio and signalwire), and "
        "recordings are downloaded with it. A secret; required when enabled."))
    voice_account_sid: str | None = Field(None, description=(
        "The provider's account SID: the user name, with the auth token as password, of "
        "the recording downloads (HTTP basic). Unset: downloads without credentials."))
    voice_base_url: str | None = Field(None, pattern=r"^https?://[^/\s]+(/\S*)?$",
                                       description=(
        "The public address of /voice as the provider calls it, e.g. "
        "`https://act.campaign.example/voice`: signatures are checked against it and the "
        "menu's links are built on it. Unset: GATEWAY_PUBLIC_BASE_URL + `/voice`."))
    voice_program: str | None = Field(None, description=(
        "The keywords-file program the line speaks for (its name, themes, privacy charter "
        "and SMS opt-in). Unset: the program that runs GATEWAY_SHORTCODE."))
    voice_language: Literal["fr", "en"] | None = Field(None, description=(
        "The language the line speaks (`fr` or `en`). Unset: the program's (French for a "
        "French program)."))
    voice_speech: bool = Field(False, description=(
        "Let callers say the menu's number as well as press it (the provider's speech "
        "recognition, in the line's language)."))
    voice_gather_timeout: int = Field(6, ge=2, le=30, description=(
        "Seconds the line waits for a key before it counts as no answer."))
    voice_max_prompts: int = Field(3, ge=1, le=10, description=(
        "Times a menu is said (the first time included) when the caller presses nothing "
        "or a key not on it, before a polite goodbye."))
    voice_record_max_seconds: int = Field(120, ge=10, le=600, description=(
        "Longest question a caller may record, in seconds."))
    voice_recording_max_bytes: int = Field(20_000_000, ge=100_000, le=200_000_000,
                                           description=(
        "Largest recording downloaded from the provider, in bytes; a larger one is not "
        "kept (the question is flagged as failed)."))
    voice_message_max_bytes: int = Field(10_000_000, ge=100_000, le=100_000_000,
                                         description=(
        "Largest audio file organizers may publish as the candidate's message, in bytes."))
    voice_download_attempts: int = Field(8, ge=1, le=50, description=(
        "Tries to download a recording before it is given up (backoff from 5 s, doubling "
        "up to 30 min)."))
    voice_download_timeout: float = Field(30.0, gt=0, description=(
        "Seconds a recording download may take before the try counts as failed."))
    voice_simulator: bool = Field(False, description=(
        "Turn on the demo's call simulator page (/voice-line/simulator), which sends signed "
        "webhook requests as a caller. Leave off in production."))

    @field_validator("voice_auth_token")
    @classmethod
    def _voice_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("voice_enabled") and (value is None
                                               or not value.get_secret_value().strip()):
            raise ValueError("required when GATEWAY_VOICE_ENABLED is true (the provider's auth "
                             "token, which signs every webhook)")
        return value

    @field_validator("voice_base_url")
    @classmethod
    def _voice_base(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value
    # Notifications to staff (gateway/notify/, docs/contact-centre.md "Notifications").
    notify_digest_minutes: int = Field(1440, ge=0, le=1440, description=(
        "Minutes between two digests of new questions mailed to each expert, a divisor of "
        "a day (1440: once a day; 60: hourly); 0 turns digests off. Leads' notices of "
        "questions past their SLA do not depend on it."))
    notify_digest_hour: int = Field(8, ge=0, le=23, description=(
        "Hour of the day (in GATEWAY_ORGANIZATION_TIMEZONE, the organization's time zone) the "
        "digests' times start from: with 1440 minutes, the hour each daily digest goes."))

    @field_validator("notify_digest_minutes")
    @classmethod
    def _divides_a_day(cls, value: int) -> int:
        if value and 1440 % value:  # each day the same times (gateway/notify/schedule.py)
            near = max(d for d in range(1, value) if 1440 % d == 0)
            raise ValueError(f"{value} does not divide a day (1440 minutes); use 0 (off) or "
                             f"a divisor such as {near}, 60 or 1440")
        return value
    # One person, many addresses (gateway/services/persons/, docs/contact-centre.md).
    persons_link_hours: float = Field(72.0, gt=0, le=24 * 30, description=(
        "Hours a link sent to confirm that an e-mail address or number belongs with "
        "another stays valid; it works once."))
    persons_texts: Path | None = Field(None, description=(
        "TOML file with the texts of those links (e-mail, SMS, the confirmation page) in "
        "French and English; unset: the built-in ones (gateway/services/persons/texts.toml)."))
    # E-mail out (gateway/mail/sender.py, docs/email.md "E-mail out"): off unless a host is set.
    mail_out_host: str | None = Field(None, description=(
        "SMTP submission server of the campaign's mail provider, e.g. `smtp.provider.example`: "
        "turns the e-mail sender on. Unset: queued e-mail waits in the outbox, unsent."))
    mail_out_port: int | None = Field(None, ge=1, le=65535, description=(
        "Port of the submission server; unset: 587 for `starttls`, 465 for `tls`, 25 for "
        "`none`."))
    mail_out_security: Literal["starttls", "tls", "none"] = Field("starttls", description=(
        "`starttls` (required, not opportunistic), `tls` (implicit TLS, port 465), or `none` "
        "(plain text: for a relay on loopback only)."))
    mail_out_ca_file: Path | None = Field(None, description=(
        "PEM file of a private CA the submission server's certificate is checked against; "
        "unset: the system's trusted CAs."))
    mail_out_user: str = Field("", description=(
        "Login for SMTP AUTH at the submission server; unset: no AUTH."))
    mail_out_password: SecretStr | None = Field(None, validate_default=True, description=(
        "Password (or app password, API key) for SMTP AUTH. A secret; required with a "
        "user."))
    mail_out_timeout: float = Field(30.0, gt=0, description=(
        "Seconds of silence from the submission server after which an attempt counts as "
        "failed."))
    mail_out_batch_size: int = Field(20, ge=1, le=500, description=(
        "Rows one sender claims at a time and sends over one SMTP connection."))
    mail_out_max_attempts: int = Field(10, ge=1, le=100, description=(
        "Attempts a message gets when the server answers 4xx (try later) before it fails; "
        "a server that cannot be reached counts against no message."))
    mail_out_retry_min: float = Field(60.0, gt=0, description=(
        "Seconds before the first retry of a message refused for now; each next one waits "
        "up to twice as long (random, so retries spread)."))
    mail_out_retry_max: float = Field(7200.0, gt=0, validate_default=True, description=(
        "Longest wait in seconds between two attempts of one message."))
    mail_out_domain_rate: int = Field(0, ge=0, description=(
        "Bulk messages (newsletters) a minute to one recipient domain, per gateway "
        "process; 0: no limit. Mail to one person is never held by it."))
    mail_out_domain_rates: dict[str, int] = Field({}, description=(
        "Per-domain exceptions to GATEWAY_MAIL_OUT_DOMAIN_RATE as JSON, e.g. "
        '`{"gmail.com": 600, "orange.fr": 120}` (0: no limit for that domain).'))
    mail_demo_mailbox: Path | None = Field(None, description=(
        "Directory where the demo's outgoing-mail sink stores what it receives (`make demo` "
        "runs it): turns on the demo mailbox page (/mailbox). Leave unset in production."))

    @field_validator("mail_out_password")
    @classmethod
    def _out_login(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("mail_out_user") and value is None:
            raise ValueError("required when GATEWAY_MAIL_OUT_USER is set")
        return value

    @field_validator("mail_out_retry_max")
    @classmethod
    def _retry_range(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("mail_out_retry_min")
        if low is not None and value < low:
            raise ValueError(f"must not be below GATEWAY_MAIL_OUT_RETRY_MIN ({low})")
        return value

    @field_validator("mail_out_domain_rates", mode="before")
    @classmethod
    def _json_rates(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError('not JSON; write {"gmail.com": 600}') from None
        return value

    @field_validator("mail_out_domain_rates")
    @classmethod
    def _rates_checked(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [domain for domain, rate in value.items() if rate < 0 or "." not in domain]
        if bad:
            raise ValueError(f"a domain with a dot and a rate of 0 or more: {', '.join(bad)}")
        return {domain.lower(): rate for domain, rate in value.items()}
    # Routing e-mail and the public form /write into the contact centre (gateway/routing/,
    # docs/contact-centre.md).
    mail_route_interval: float = Field(2.0, gt=0, description=(
        "Seconds the e-mail router waits, once every stored message is routed, before it "
        "looks again."))
    mail_route_programs: dict[str, str] = Field({}, description=(
        "The program mail to each contact address belongs to: `address=program` pairs, "
        "comma-separated, or a JSON object. Mail to an address not listed, and the form "
        "without GATEWAY_WRITE_FORM_PROGRAM, go to the first program that has themes."))
    mail_route_knowledge_max_words: int = Field(60, ge=0, le=100_000, description=(
        "Longest e-mail or form message, in words, that a knowledge-base phrase answers with "
        "its standard answer; a longer one goes to the theme's experts. 0: never."))
    write_form_enabled: bool = Field(False, description=(
        "Serve the public form /write, where anyone can write to the campaign (no login)."))
    write_form_program: str | None = Field(None, description=(
        "The program whose themes /write offers; unset: the first program with themes."))
    write_form_secret: SecretStr | None = Field(None, description=(
        "Key that signs the form's timestamp (the minimum fill time) and hashes the rate "
        "limits' addresses. A secret; unset: a random key per process, so set the same one "
        "on every gateway that serves /write."))
    write_form_min_seconds: float = Field(3.0, ge=0, le=600, description=(
        "A form sent sooner than this after it was shown is refused (a robot's speed)."))
    write_form_max_age: int = Field(86400, ge=60, description=(
        "Seconds a shown form stays valid; an older one is shown again to be re-sent."))
    write_form_per_address_per_hour: int = Field(5, ge=1, le=10_000, description=(
        "Posts an hour accepted from one e-mail address or mobile number."))
    write_form_per_ip_per_hour: int = Field(20, ge=1, le=100_000, description=(
        "Posts an hour accepted from one client IP address."))
    write_form_max_chars: int = Field(5000, ge=100, le=100_000, description=(
        "Longest message the form accepts, in characters."))
    # E-mail consent: double opt-in and unsubscribe links (gateway/email_consent/).
    mail_consent_link_hours: int = Field(48, ge=1, le=720, description=(
        "Hours a double opt-in confirmation link works; while one is open, asking again "
        "sends no second mail to the same address for the same program."))
    mail_link_secret: SecretStr | None = Field(None, description=(
        "Key of the HMAC-SHA256 that signs the unsubscribe link of every bulk mail. A "
        "secret; changing it breaks the links in mail already sent. Unset: no bulk mail can "
        "be queued."))
    # Sending e-mail and links in it (shared by every feature that mails a citizen).
    mail_from_address: str | None = Field(None, description=(
        "The address the campaign's e-mail comes from (answers, acknowledgements, "
        "confirmations, newsletters), e.g. `contact@campaign.example`; its domain is the "
        "one Message-IDs are made on. Unset: the first of GATEWAY_MAIL_CONTACT_ADDRESSES; "
        "with neither, nothing is mailed."))
    mail_from_name: str = Field("", description=(
        "Display name beside GATEWAY_MAIL_FROM_ADDRESS, e.g. `Campaign contact centre`."))
    public_base_url: str | None = Field(None, pattern=r"^https?://[^/\s]+(/\S*)?$",
                                        description=(
        "The public address of the gateway's pages, e.g. `https://act.campaign.example`, "
        "used to build links citizens follow (e-mail confirmation, unsubscribe, the "
        "public form). Unset: links are built from the web listener's own host and port, "
        "which only suits a demo."))
    # The organization's locale (gateway/web/locale.py): its zone, language and currency.
    organization_timezone: str = Field(
        "UTC", validation_alias=AliasChoices("organization_timezone", "finance_timezone"),
        description=(
            "The organization's time zone (IANA name, e.g. `America/New_York`): the calendar "
            "days of the reports and the dashboard, broadcast send times, and the zone pages "
            "show times in for a user who has not chosen one. The old name "
            "`GATEWAY_FINANCE_TIMEZONE` is still read when this one is not set."))
    organization_language: Literal["en", "fr"] = Field("en", description=(
        "The campaign's language (`en` or `fr`): the language of the admin pages for a user "
        "who has not chosen one, and of the login page."))
    organization_currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description=(
        "ISO 4217 code of the currency amounts are shown in when a row does not name its "
        "own (totals, reconciliation), e.g. `USD` or `EUR`."))
    # Voice line: which provider signs the webhooks, and how (gateway/voice/signature.py,
    # docs/voice.md "Signatures").
    voice_signature_scheme: Literal["twilio", "signalwire", "telnyx"] = Field(
        "twilio", description=(
            "How the voice provider signs its webhooks; every other way is refused (403). "
            "`twilio`: X-Twilio-Signature, an HMAC keyed with GATEWAY_VOICE_AUTH_TOKEN. "
            "`signalwire`: the same HMAC keyed with the project's Signing Key (in "
            "GATEWAY_VOICE_AUTH_TOKEN), in X-SignalWire-Signature or X-Twilio-Signature. "
            "`telnyx`: an Ed25519 signature checked with GATEWAY_VOICE_TELNYX_PUBLIC_KEY."))
    voice_signature_max_age: int = Field(300, ge=30, le=3600, description=(
        "Seconds a Telnyx webhook's signature stays valid, either side of the gateway's "
        "clock (its telnyx-timestamp); an older request is refused as a replay."))
    voice_telnyx_public_key: str | None = Field(None, validate_default=True, description=(
        "The Telnyx account's public key (base64, from the portal's API keys page) that "
        "checks its webhooks' signatures. Required with GATEWAY_VOICE_SIGNATURE_SCHEME=telnyx."))
    # Voice line: the recording downloads' own password (gateway/voice/recordings.py,
    # docs/voice.md "A cXML provider: SignalWire").
    voice_download_password: SecretStr | None = Field(None, description=(
        "The password of the recording downloads (HTTP basic, GATEWAY_VOICE_ACCOUNT_SID "
        "as user name) when it is not GATEWAY_VOICE_AUTH_TOKEN: on SignalWire, an API "
        "token of the project (with the Project ID as account SID), since the auth token "
        "there is the Signing Key. A secret. Unset: the auth token is the password."))

    @field_validator("voice_download_password")
    @classmethod
    def _download_login(cls, value: SecretStr | None,
                        info: ValidationInfo) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        if value is not None and not info.data.get("voice_account_sid"):
            raise ValueError("needs GATEWAY_VOICE_ACCOUNT_SID, the downloads' user name "
                             "(on SignalWire, the Project ID)")
        return value

    @field_validator("voice_telnyx_public_key")
    @classmethod
    def _telnyx_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            if info.data.get("voice_enabled") and \
                    info.data.get("voice_signature_scheme") == "telnyx":
                raise ValueError("required when GATEWAY_VOICE_SIGNATURE_SCHEME is telnyx "
                                 "(the key that checks every webhook)")
            return None
        try:
            base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64 (copy the public key from the Telnyx portal)") from None
        if len(base64.b64decode(value.strip())) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes once base64-decoded")
        return value.strip()
    # Outgoing webhooks (gateway/hooks/, docs/webhooks.md).
    webhooks_timeout: float = Field(10.0, gt=0, le=120, description=(
        "Seconds a receiver has to answer a delivery (connection and response); no answer "
        "in time is a failed attempt, retried."))
    webhooks_batch_size: int = Field(50, ge=1, le=1000, description=(
        "Deliveries one gateway claims and POSTs at once (also its connections open at once)."))
    webhooks_max_attempts: int = Field(15, ge=1, le=100, description=(
        "Attempts of one delivery before it is given up (`failed` in its log; a replay "
        "tries again)."))
    webhooks_retry_min: float = Field(30.0, gt=0, description=(
        "Seconds before the first retry; each later one waits up to twice as long "
        "(exponential backoff with full jitter)."))
    webhooks_retry_max: float = Field(21600.0, gt=0, description=(
        "Longest wait between two attempts, in seconds (default 6 hours)."))
    webhooks_disable_after_failures: int = Field(10, ge=1, le=10_000, description=(
        "Failed attempts in a row (no success between) that, together with "
        "GATEWAY_WEBHOOKS_DISABLE_AFTER_HOURS, turn a subscription off and mail the admins."))
    webhooks_disable_after_hours: float = Field(24.0, ge=0, description=(
        "How long the run of failures must have lasted before the subscription is turned "
        "off; 0: as soon as GATEWAY_WEBHOOKS_DISABLE_AFTER_FAILURES is reached."))
    webhooks_allow_loopback_http: bool = Field(False, description=(
        "Accept an `http://` receiver on a loopback host (127.0.0.1, ::1, localhost), for a "
        "demo or tests; every other receiver must be `https://`."))
    webhooks_retention_days: int = Field(30, ge=1, le=3660, description=(
        "Days an event and its delivery log are kept once nothing is waiting to be sent."))
    webhooks_notice_language: Literal["fr", "en"] = Field("en", description=(
        "The language of the mail that tells admins a subscription was turned off."))
    # Outgoing webhooks, admin page and network guard (hooksadmin; docs/webhooks.md).
    webhooks_allow_private_networks: bool = Field(False, description=(
        "Let the delivery task connect to loopback, private, link-local, multicast and "
        "reserved addresses (a receiver inside the campaign's network, a demo, tests). Off: "
        "such an address, even one a receiver's DNS answers, is refused at connect time."))
    webhooks_subscriptions_refresh_seconds: float = Field(60.0, gt=0, le=3600, description=(
        "How often a gateway re-reads which event types some subscription wants, besides "
        "the database's notice on every change (a fallback if a notice was missed)."))

    # contact exports (services/exports.py, services/export_jobs.py; docs/segments-and-export.md)
    exports_link_secret: SecretStr | None = Field(None, description=(
        "Key that signs an export's download link. A secret; unset: a random key per "
        "process, so links stop working when the gateway restarts and one instance's "
        "links fail on another."))
    exports_link_seconds: int = Field(86400, ge=60, le=7 * 86400, description=(
        "Seconds an export's download link works after the export is done."))
    exports_keep_days: int = Field(7, ge=1, le=365, description=(
        "Days an export's file is kept before it is deleted."))

    # the send API (POST /api/v1/messages; docs/send-api.md)
    send_api_batch_limit: int = Field(1000, ge=1, le=10_000, description=(
        "Most messages one POST /api/v1/messages may carry; more is refused with 400."))
    send_api_idempotency_hours: float = Field(24.0, gt=0, le=24 * 30, description=(
        "Hours an Idempotency-Key is remembered: the same key and body get the first "
        "answer again, the same key with another body a 422."))

    # Tracked short links in broadcasts (broadcast/links.py, docs/links-and-results.md).
    link_domain: str | None = Field(None, pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$",
                                    description=(
        "The host name of the campaign's short links (`go.example.org`): each link in a "
        "broadcast or a keyword reply becomes `https://<this>/<token>`, one token per "
        "recipient, and its clicks "
        "are counted. Unset: texts go as written, nothing is shortened. Point it at the "
        "gateway so that `/<token>` reaches `/l/<token>` (docs/links-and-results.md)."))
    link_base_url: str | None = Field(None, pattern=r"^https?://[^\s/]+/(\S*/)?$",
                                      description=(
        "The short links' prefix, when not `https://<GATEWAY_LINK_DOMAIN>/` (say "
        "`https://gateway.example.org/l/` with no rewrite in front of the gateway); ends "
        "with `/`. Setting it turns short links on by itself."))

    # Contact import (gateway/services/imports/, docs/import.md).
    import_max_bytes: int = Field(100 * 1024 * 1024, ge=1024, description=(
        "Largest contact file (CSV or XLSX) an upload may send, in bytes; about 60 MB holds "
        "500,000 rows of a typical CRM export."))
    import_chunk_rows: int = Field(10_000, ge=100, le=200_000, description=(
        "Rows an import commits at once; a gateway that stops loses at most one chunk's "
        "work, done again by the next run."))
    import_lease_seconds: float = Field(120.0, ge=10, description=(
        "How long an import's run is held by one gateway without progress before another "
        "gateway may take it over (renewed by every committed chunk)."))
    import_poll_seconds: float = Field(2.0, gt=0, le=60, description=(
        "How often a gateway looks for an import to run when none was queued through it."))

    # Every core: worker processes under one supervisor (gateway/workers/, docs/operations.md).
    workers: int = Field(1, ge=1, le=64, description=(
        "Worker processes `gateway run` starts (`--workers` overrides it). Each is a full "
        "instance with its own SMPP bind and the instance name `<GATEWAY_INSTANCE_NAME>-w<n>`; "
        "worker 1 serves HTTP. 1: one process, no supervisor."))
    uvloop: bool = Field(True, description=(
        "Run `gateway run` on uvloop (libuv's event loop, by the authors of asyncpg) instead "
        "of asyncio's own; false falls back to asyncio's, e.g. to compare "
        "(docs/operations.md)."))

    # Unused contact uploads expire (docs/import.md).
    import_upload_retention_hours: float = Field(72.0, gt=0, le=24 * 365, description=(
        "Hours an uploaded contact file is kept while it is not imported (never run, only "
        "dry-run, or stopped by an error); then the file, its column choices and its dry "
        "run's rows are deleted and the import shows as expired."))

    @field_validator("mail_contact_addresses", mode="before")
    @classmethod
    def _address_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError:
                    raise ValueError('not JSON; write ["contact@example.org"]') from None
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("mail_route_programs", mode="before")
    @classmethod
    def _route_pairs(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                try:
                    return json.loads(text)
                except ValueError:
                    raise ValueError('not JSON; write {"contact@example.org": "program"}') \
                        from None
            pairs = [part.strip() for part in text.split(",") if part.strip()]
            if any(pair.count("=") != 1 for pair in pairs):
                raise ValueError("write address=program pairs, comma-separated")
            return dict(pair.split("=") for pair in pairs)
        return value

    @field_validator("mail_route_programs")
    @classmethod
    def _route_addresses(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            return {normalize_email(address): program.strip()
                    for address, program in value.items()}
        except EmailAddressError as err:
            raise ValueError(str(err)) from None

    @field_validator("mail_from_address")
    @classmethod
    def _from_address_checked(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_email(value)
        except EmailAddressError as err:
            raise ValueError(str(err)) from None

    @field_validator("mail_contact_addresses")
    @classmethod
    def _addresses_checked(cls, value: list[str], info: ValidationInfo) -> list[str]:
        bad = [address for address in value if address.count("@") != 1 or " " in address]
        if bad:
            raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
        if info.data.get("mail_smtp_enabled") and not value:
            raise ValueError("required when GATEWAY_MAIL_SMTP_ENABLED is true (the addresses "
                             "the listener accepts mail for)")
        return [address.lower() for address in value]

    @field_validator("mail_smtp_tls_key")
    @classmethod
    def _tls_pair(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if (value is None) != (info.data.get("mail_smtp_tls_cert") is None):
            raise ValueError("GATEWAY_MAIL_SMTP_TLS_CERT and GATEWAY_MAIL_SMTP_TLS_KEY "
                             "go together")
        return value

    @field_validator("mail_imap_user", "mail_imap_password")
    @classmethod
    def _imap_login(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("mail_imap_host") and not value:
            raise ValueError("required when GATEWAY_MAIL_IMAP_HOST is set")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def finance_timezone(self) -> str:
        """The organization's zone under its old name, for code written before the rename."""
        return self.organization_timezone

    def mail_sender(self) -> str | None:
        """The From address of the campaign's mail, or None when nothing may be mailed."""
        if self.mail_from_address:
            return self.mail_from_address
        return self.mail_contact_addresses[0] if self.mail_contact_addresses else None

    def voice_url(self, path: str = "") -> str:
        """The address the voice provider uses for /voice + `path` (GATEWAY_VOICE_BASE_URL)."""
        base = self.voice_base_url or self.public_url("/voice")
        return base + (path if not path or path.startswith("/") else "/" + path)

    def link_base(self) -> str | None:
        """The prefix of the tracked short links, or None when links are not shortened."""
        if self.link_base_url:
            return self.link_base_url
        return f"https://{self.link_domain}/" if self.link_domain else None

    def public_url(self, path: str) -> str:
        """An absolute link a citizen can follow: public_base_url (or this listener) + path."""
        base = self.public_base_url or f"http://{self.http_host}:{self.http_port}"
        return base + (path if path.startswith("/") else "/" + path)


# environment variable -> field name
ENV_NAMES: dict[str, str] = {"DATABASE_URL": "database_url"} | {
    f"GATEWAY_{name.upper()}": name for name in Settings.model_fields if name != "database_url"
}
# Old names still read, each only when the setting's own name is not given.
ENV_ALIASES: dict[str, str] = {"GATEWAY_FINANCE_TIMEZONE": "organization_timezone"}


def load_settings(
    environ: Mapping[str, str], *, toml_path: Path | None = None, **overrides: Any
) -> Settings:
    """Merge TOML file < environment < explicit overrides, then validate everything at once."""
    raw: dict[str, Any] = {}
    problems: list[str] = []
    path = toml_path or (Path(environ["GATEWAY_CONFIG"]) if environ.get("GATEWAY_CONFIG") else None)
    if path is not None:
        try:
            raw.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except OSError as err:
            problems.append(f"GATEWAY_CONFIG: cannot read {path}: {err.strerror}")
        except tomllib.TOMLDecodeError as err:
            problems.append(f"GATEWAY_CONFIG: {path} is not valid TOML: {err}")
    for env_name, field in ENV_NAMES.items():
        if env_name in environ:
            raw[field] = environ[env_name]
    for alias, field in ENV_ALIASES.items():
        if alias in environ and f"GATEWAY_{field.upper()}" not in environ:
            raw[field] = environ[alias]
    raw.update(overrides)
    if "database_url" not in raw:
        problems.append("DATABASE_URL: required (postgresql://user@host:port/dbname)")
        raw["database_url"] = "unset"
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as err:
        field_to_env = {field: env for env, field in ENV_NAMES.items()}
        for error in err.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = field_to_env.get(field, field)
            problems.append(f"{name}: {error['msg']} (got {_shown(field, error.get('input'))})")
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return settings


def _shown(field: str, value: object) -> str:
    """Never echo a secret back into a log or terminal."""
    if "password" in field or "secret" in field or "token" in field:
        return "<hidden>"
    return repr(value)
