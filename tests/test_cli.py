"""The `gateway` command as an operator meets it: exit codes, messages, signals.

Commands that open the database run in a subprocess: `asyncio.run` inside
the test process would fight pytest-asyncio's session event loop.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import __version__
from gateway.cli import main
from tests.support.cli import CLEAN_ENV, PYTHONPATH, ROOT


def gateway(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**CLEAN_ENV, "PYTHONPATH": PYTHONPATH, **env},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["run", "migrate"])
def test_bad_config_exits_2_listing_every_bad_setting(command: str) -> None:
    result = gateway(
        command,
        env={"GATEWAY_SMPP_PORT": "70000", "GATEWAY_SMPP_BIND_MODE": "sideways"},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("invalid configuration:") == 1
    for name in ("DATABASE_URL", "GATEWAY_SMPP_PORT", "GATEWAY_SMPP_BIND_MODE"):
        assert f"  - {name}: " in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_clear_line_without_the_password() -> None:
    # Port 1 on loopback: nothing listens there, the refusal is immediate.
    result = gateway(
        "migrate", env={"DATABASE_URL": "postgresql://gateway:pw-must-not-echo@127.0.0.1:1/gw"}
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "gateway migrate: cannot connect to PostgreSQL at 127.0.0.1:1/gw: ")
    assert result.stderr.rstrip().endswith("check DATABASE_URL")
    assert "pw-must-not-echo" not in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_applies_then_reports_up_to_date(empty_db_url: str, tmp_path: Path) -> None:
    (tmp_path / "001_first.sql").write_text("CREATE TABLE first (id int);", encoding="utf-8")
    (tmp_path / "002_second.sql").write_text("CREATE TABLE second (id int);", encoding="utf-8")
    env = {"DATABASE_URL": empty_db_url, "GATEWAY_LOG_LEVEL": "warning"}
    first = gateway("migrate", "--dir", str(tmp_path), env=env)
    second = gateway("migrate", "--dir", str(tmp_path), env=env)
    assert first.returncode == 0
    assert first.stdout == "applied 001_first.sql\napplied 002_second.sql\n"
    assert (second.returncode, second.stdout) == (0, "database schema is up to date\n")


def test_bad_migration_exits_1_naming_the_file(empty_db_url: str, tmp_path: Path) -> None:
    (tmp_path / "001_typo.sql").write_text("CREAT TABLE t (id int);", encoding="utf-8")
    result = gateway("migrate", "--dir", str(tmp_path), env={"DATABASE_URL": empty_db_url})
    assert result.returncode == 1
    assert result.stderr.startswith(
        'gateway migrate: 001_typo.sql: syntax error at or near "CREAT"')


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"gateway {__version__}\n"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as no_command:
        main([])
    with pytest.raises(SystemExit) as unknown_option:
        main(["version", "--colour"])
    assert no_command.value.code == 2 and unknown_option.value.code == 2
    assert "unrecognized arguments: --colour" in capsys.readouterr().err


def test_keywords_check_lists_problems_and_exits_1(tmp_path: Path) -> None:
    pytest.importorskip("gateway.engine.loader")
    broken = tmp_path / "keywords.yaml"
    broken.write_text("keywords:\n  - [unclosed\n", encoding="utf-8")
    result = gateway("keywords", "check", str(broken), env={})
    assert result.returncode == 1
    assert f"{broken}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_refuses_to_start_on_a_bad_keywords_file(db_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "keywords.yaml"
    broken.write_text("version: 1\nprograms: {rise: {name: 3}}\n", encoding="utf-8")
    result = gateway(
        "run", "--no-migrate",
        env={"DATABASE_URL": db_url, "GATEWAY_KEYWORDS": str(broken), "GATEWAY_HTTP_PORT": "0"},
    )
    assert result.returncode == 1
    assert f"{broken}:2:" in result.stderr
    assert "Traceback" not in result.stderr


def test_tool_options_belong_to_the_tool() -> None:
    pytest.importorskip("gateway.smpp.chat")
    result = gateway("chat", "--help", env={})
    assert result.returncode == 0
    assert result.stdout.startswith("usage: gateway chat")
    assert "--phone-port" in result.stdout


SIGNAL_SCRIPT = """
import asyncio
from gateway.cli import run_until_signalled

async def serve():
    print("ready", flush=True)
    try:
        await asyncio.sleep(60)
    finally:
        print("cleaned up", flush=True)
    return 1

raise SystemExit(0 if run_until_signalled(serve()) is None else 1)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_cancels_the_main_coroutine_so_its_cleanup_runs(signum: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_SCRIPT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**CLEAN_ENV, "PYTHONPATH": PYTHONPATH},
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signum)
    out, _ = process.communicate(timeout=30)
    assert (process.returncode, out) == (0, "cleaned up\n")
