"""Settings: every problem reported at once, secrets never echoed, TOML under the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_settings

# Deliberately odd values, so a leak would be unmistakable in the message.
FAKE_SMPP_PASSWORD = "pw-must-not-echo"
FAKE_DB_PASSWORD = "db-pw-must-not-echo"


def test_every_bad_setting_is_listed_in_one_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "GATEWAY_SMPP_PORT": "99999",
                "GATEWAY_SMPP_WINDOW": "0",
                "GATEWAY_LOG_LEVEL": "loud",
                "GATEWAY_SHORTCODE": "no spaces allowed",
            }
        )
    names = [problem.split(":", 1)[0] for problem in caught.value.problems]
    assert sorted(names) == [
        "DATABASE_URL",
        "GATEWAY_LOG_LEVEL",
        "GATEWAY_SHORTCODE",
        "GATEWAY_SMPP_PORT",
        "GATEWAY_SMPP_WINDOW",
    ]
    message = str(caught.value)
    assert message.startswith("invalid configuration:")
    assert all(problem in message for problem in caught.value.problems)


def test_passwords_are_never_echoed(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("smpp_password = 12345678\n", encoding="utf-8")  # wrong type: int
    environ = {
        "DATABASE_URL": f"postgresql://gateway:{FAKE_DB_PASSWORD}@db.invalid/gateway",
        "GATEWAY_CONFIG": str(config),
        "GATEWAY_SMPP_PORT": "0",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(environ)
    message = str(caught.value)
    assert "GATEWAY_SMPP_PASSWORD" in message and "<hidden>" in message
    assert "12345678" not in message
    assert FAKE_DB_PASSWORD not in message

    settings = load_settings(
        {"DATABASE_URL": "postgresql://h/db", "GATEWAY_SMPP_PASSWORD": FAKE_SMPP_PASSWORD}
    )
    assert settings.smpp_password.get_secret_value() == FAKE_SMPP_PASSWORD
    assert FAKE_SMPP_PASSWORD not in repr(settings) and FAKE_SMPP_PASSWORD not in str(settings)


def test_toml_file_sits_under_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        'database_url = "postgresql://from-file/db"\nsmpp_port = 3000\nlog_level = "debug"\n',
        encoding="utf-8",
    )
    settings = load_settings({"GATEWAY_CONFIG": str(config), "GATEWAY_SMPP_PORT": "4000"})
    assert settings.smpp_port == 4000  # the environment wins
    assert settings.log_level == "debug"  # the file fills in what the environment leaves
    assert settings.database_url == "postgresql://from-file/db"
    explicit = load_settings({}, toml_path=config, smpp_port=5000)
    assert explicit.smpp_port == 5000  # explicit overrides win over both


def test_unreadable_or_invalid_toml_is_reported_with_other_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"GATEWAY_CONFIG": str(tmp_path / "missing.toml")})
    assert [p.split(":", 1)[0] for p in caught.value.problems] == ["GATEWAY_CONFIG", "DATABASE_URL"]

    broken = tmp_path / "broken.toml"
    broken.write_text("smpp_port = = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings({"GATEWAY_CONFIG": str(broken), "DATABASE_URL": "postgresql://h/db"})

    unknown = tmp_path / "unknown.toml"
    unknown.write_text('database_url = "postgresql://h/db"\nsmpp_prot = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="smpp_prot"):
        load_settings({"GATEWAY_CONFIG": str(unknown)})
