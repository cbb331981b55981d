"""One settings object, built once at start-up and passed down.

Why a hand-rolled loader over pydantic-settings: we want every bad setting
reported in one message (an operator fixing a deployment should not play
whack-a-mole), environment names that match the README exactly, and an
optional TOML file underneath the environment. Nothing here reads the
environment at import time; `load_settings` takes the mapping explicitly so
tests build settings without touching `os.environ`.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

BindMode = Literal["transceiver", "split"]


class ConfigError(Exception):
    """Raised with every problem found, one per line, so `gateway` exits 2 once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = Field(min_length=1)
    smpp_host: str = "127.0.0.1"
    smpp_port: int = Field(2775, ge=1, le=65535)
    smpp_system_id: str = Field("gateway", min_length=1, max_length=15)
    smpp_password: SecretStr = Field(SecretStr("secret"))
    smpp_system_type: str = Field("", max_length=12)
    smpp_bind_mode: BindMode = "transceiver"
    smpp_window: int = Field(100, ge=1, le=10_000)
    smpp_tps: float = Field(0.0, ge=0.0, description="0 means no cap")
    smpp_submit_timeout: float = Field(10.0, gt=0)
    smpp_enquire_link_interval: float = Field(30.0, gt=0)
    smpp_reconnect_min: float = Field(0.5, gt=0)
    smpp_reconnect_max: float = Field(30.0, gt=0)
    smpp_bind_refused_delay: float = Field(60.0, gt=0)
    # how long a send whose outcome is unknown waits for a receipt proving the SMSC took it
    unsure_send_hold: float = Field(120.0, gt=0)
    shortcode: str = Field("12345", pattern=r"^[0-9A-Za-z+]{3,16}$")
    default_region: str = Field("US", pattern=r"^[A-Z]{2}$")
    keywords: Path = Path("keywords.yaml")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    ingest_lanes: int = Field(4, ge=1, le=64)
    ingest_batch: int = Field(256, ge=1, le=10_000)
    ingest_linger_ms: float = Field(2.0, ge=0)
    reassembly_timeout: float = Field(300.0, gt=0)
    # seconds a stored MO whose acknowledgement the SMSC was not seen to read can be
    # matched by its redelivery (docs/redelivery.md)
    mo_redelivery_window: float = Field(300.0, gt=0)
    migrate_on_start: bool = True
    instance_name: str = "gateway-1"
    # Donations. Carrier billing: which aggregator layout marks a billed MT
    # (billing/aggregators.py PROFILES). Cards: Stripe, off unless a key is set.
    billing_aggregator: Literal["tariff_code", "amount_tlv", "smpp50"] = "amount_tlv"
    billing_interval: float = Field(1.0, gt=0)
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str = Field("https://api.stripe.com", pattern=r"^https?://\S+$")
    stripe_checkout_success_url: str = "https://example.org/give/thanks"
    stripe_checkout_cancel_url: str = "https://example.org/give/cancelled"
    # Carrier price points as the aggregator's tariff codes, cents -> code, JSON in the
    # environment: '{"500": "DON5", "1000": "DON10"}' (billing/aggregators.py).
    billing_tariff_codes: dict[int, str] = {}
    # Where supporters reach the donor-details form (web/donor_details.py); unset: the
    # committee's own site (its terms_url), which passes /give/details/ to the gateway.
    donor_details_url: str | None = Field(None, pattern=r"^https?://\S+$")

    @field_validator("billing_tariff_codes", mode="before")
    @classmethod
    def _json_codes(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError('not JSON; write {"500": "DON5", "1000": "DON10"}') from None
        return value
    # Finance (README, "Finance"): more settlement column mappings (TOML), the
    # mapping `reconcile import-settlement` uses by default, and the zone whose
    # calendar days the reports group and filter by.
    finance_mappings: Path | None = None
    finance_default_mapping: str = "carrier_default"
    finance_timezone: str = "UTC"
    # Admin web (gateway/web/sessions.py). Secure cookies need HTTPS; turn off only
    # for a local http demo.
    web_cookie_secure: bool = True
    web_cookie_samesite: Literal["Lax", "Strict"] = "Lax"
    web_session_hours: float = Field(12.0, gt=0, le=24 * 30)
    # Login throttle (gateway/web/login_throttle.py): failed logins one e-mail may
    # have from one address, and one address across all e-mails, before each next
    # try waits (1 s, doubling, up to the max delay); a key idle for a whole window
    # after its last wait starts afresh.
    web_login_max_failures: int = Field(5, ge=1)
    web_login_max_failures_per_client: int = Field(50, ge=1)
    web_login_max_delay: float = Field(900.0, ge=1, description="seconds")
    web_login_client_max_delay: float = Field(60.0, ge=1, description="seconds")
    web_login_window: float = Field(900.0, gt=0, description="seconds")
    # Password hashing (gateway/web/password_work.py): argon2 runs in this many
    # threads, with at most this many more waiting; anything beyond gets 429 at once.
    web_password_workers: int = Field(2, ge=1, le=16)
    web_password_queue: int = Field(8, ge=0, le=1000)
    # API tokens live this many days unless made shorter.
    web_token_days: int = Field(90, ge=1, le=3650)
    # The demo's phone simulator page (gateway/web/pages/phone.py) talks to the SMSC
    # simulator's phone port on smpp_host; unset (the default) keeps the page off, as it
    # must be in production where the SMSC is a carrier's.
    web_phone_simulator: int | None = Field(None, ge=1, le=65535)
    # Contact centre: how often questions past their SLA are escalated to their theme's
    # leads (seconds), and the most SMS segments an expert's answer may take.
    questions_escalation_interval: float = Field(60.0, gt=0)
    questions_answer_max_segments: int = Field(6, ge=1, le=20)
    # Privacy (gateway/privacy/): the key of the hash that keeps an erased number's
    # opt-out (HMAC-SHA256; changing it forgets every kept opt-out), and how long a
    # contact may stay idle before the retention job erases it.
    privacy_hash_secret: SecretStr | None = None
    privacy_retention_days: int = Field(3 * 365, ge=30)
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


# environment variable -> field name
ENV_NAMES: dict[str, str] = {"DATABASE_URL": "database_url"} | {
    f"GATEWAY_{name.upper()}": name for name in Settings.model_fields if name != "database_url"
}


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
    if "password" in field or "secret" in field:
        return "<hidden>"
    return repr(value)
