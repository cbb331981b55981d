"""Every `gateway` subcommand's main error paths, as an operator meets them in a terminal.

Each case runs the real command in a subprocess (no database listens on the
URL it is given, so whatever needs one fails as "unreachable") and checks:
no traceback, one line on stderr naming the argument, and the exit code of
the table in gateway/cli_errors.py (2 a bad argument or setting, 1 the
command could not be done).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import CLEAN_ENV, PYTHONPATH, ROOT

UNREACHABLE = "postgresql://gateway:pw-must-not-echo@127.0.0.1:1/gw"
PERIOD = ("--from", "2024-09-01", "--to", "2024-09-30")
NUMBER = "+12125550123"

# (arguments, extra environment, exit code, text stderr must contain)
CASES: list[tuple[tuple[str, ...], dict[str, str], int, str]] = [
    (("report", "donations", *PERIOD, "--timezone", "Eastern"), {}, 2,
     "gateway report: argument --timezone: unknown time zone 'Eastern'"),
    (("report", "donations", *PERIOD), {"GATEWAY_ORGANIZATION_TIMEZONE": "Mars/Olympus"}, 2,
     "argument GATEWAY_ORGANIZATION_TIMEZONE: unknown time zone 'Mars/Olympus'"),
    (("report", "donations", "--from", "2024-13-01", "--to", "2024-09-30"), {}, 2,
     "argument --from: invalid day value: '2024-13-01'"),
    (("report", "donations", "--from", "2024-09-30", "--to", "2024-09-01"), {}, 2,
     "argument --to: 2024-09-01 is before --from 2024-09-30"),
    (("report", "donations", "--to", "2024-09-30"), {}, 2,
     "the following arguments are required: --from"),
    (("report", "itemization", *PERIOD, "--threshold", "lots"), {}, 2, "argument --threshold:"),
    (("report", "itemization", *PERIOD, "--cycle-start", "2024-10-01"), {}, 2,
     "argument --cycle-start:"),
    (("report", "donations", *PERIOD, "--group-by", "colour"), {}, 2,
     "argument --group-by: invalid choice: 'colour'"),
    (("report", "donations", *PERIOD), {}, 1, "cannot connect to PostgreSQL at 127.0.0.1:1/gw"),
    (("broadcast", "create", "--program", "rse", "--text", "Rally!"), {}, 2,
     "argument --program: 'rse' is not a program of the keywords file; known: ensemble, rise"),
    (("broadcast", "create", "--program", "rise", "--text", "x", "--shortcode", "38200"), {}, 2,
     "argument --shortcode: program rise is on 12345, not 38200"),
    (("broadcast", "create", "--program", "rise", "--text", "x", "--at", "tomorrow"), {}, 2,
     "argument --at: 'tomorrow' is not an ISO 8601 date and time"),
    (("broadcast", "create", "--program", "rise", "--text", "x", "--where", "state = = NY"),
     {}, 2, "argument --where:"),
    (("broadcast", "create", "--program", "rise", "--text", "Hi {first_name"), {}, 2,
     "argument --text:"),
    (("broadcast", "create", "--program", "rise", "--text", "x"),
     {"GATEWAY_KEYWORDS": "missing-keywords.yaml"}, 2, "argument GATEWAY_KEYWORDS:"),
    (("broadcast", "create", "--program", "rise", "--text", "x"), {}, 1,
     "cannot connect to PostgreSQL"),
    (("broadcast", "start", "seven"), {}, 2, "argument id: invalid int value: 'seven'"),
    (("broadcast", "start", "7"), {}, 1, "cannot connect to PostgreSQL"),
    (("broadcast",), {}, 2, "the following arguments are required: ACTION"),
    (("reconcile", "import-settlement", "missing.csv"), {}, 2,
     "argument FILE: cannot read missing.csv: No such file or directory"),
    (("reconcile", "import-settlement", "settlement.csv", "--mapping", "nope"), {}, 2,
     "argument --mapping: no column mapping named 'nope'"),
    (("reconcile", "import-stripe", "--csv", "missing.csv"), {}, 2, "argument --csv: cannot read"),
    (("reconcile", "import-stripe", "--api"), {}, 2, "argument --api: needs a Stripe key"),
    (("reconcile", "import-stripe", "--api", "--since", "2024-02-01", "--until", "2024-01-01"),
     {"GATEWAY_STRIPE_SECRET_KEY": "sk_test_x"}, 2, "argument --until:"),
    (("reconcile", "summary"), {}, 1, "cannot connect to PostgreSQL"),
    (("privacy", "export", "not a number"), {}, 2, "argument NUMBER: "),
    (("privacy", "erase", NUMBER), {}, 2, "argument --yes: erasing cannot be undone"),
    (("privacy", "erase", NUMBER, "--yes"), {}, 2, "argument GATEWAY_PRIVACY_HASH_SECRET:"),
    (("privacy", "retention", "--limit", "0"), {}, 2, "argument --limit: invalid positive"),
    (("privacy", "export", NUMBER, "--output", "out.json"), {}, 1, "cannot connect"),
    (("user", "add", "not-an-address", "--role", "admin", "--no-password"), {}, 2,
     "argument EMAIL: 'not-an-address' is not an e-mail address"),
    (("user", "add", "a@example.org", "--role", "king", "--no-password"), {}, 2,
     "argument --role: invalid choice: 'king'"),
    (("user", "add", "a@example.org", "--role", "admin", "--no-password"), {}, 1,
     "cannot connect to PostgreSQL"),
    (("migrate", "--dir", "no-such-dir"), {}, 2, "argument --dir: no-such-dir is not a directory"),
    (("migrate",), {}, 1, "cannot connect to PostgreSQL"),
    (("migrate",), {"GATEWAY_SMPP_PORT": "70000"}, 2, "invalid configuration:"),
    (("keywords", "check", "missing-keywords.yaml"), {}, 1, "cannot read"),
    (("smsc", "--port", "70000"), {}, 2, "argument --port: invalid port (0-65535) value"),
    (("chat", "--phone-port", "1"), {}, 1, "cannot reach the simulator phone port"),
    (("bogus",), {}, 2, "argument COMMAND: invalid choice: 'bogus'"),
]


def run_gateway(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> (
        subprocess.CompletedProcess[str]):
    environment = {**CLEAN_ENV, "PYTHONPATH": PYTHONPATH, "DATABASE_URL": UNREACHABLE,
                   "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"), **env}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True,
        cwd=cwd, env=environment, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )


@pytest.mark.parametrize(("args", "env", "code", "said"), CASES,
                         ids=[" ".join(c[0]) for c in CASES])
def test_error_is_one_line_naming_it_with_the_documented_exit_code(
    args: tuple[str, ...], env: dict[str, str], code: int, said: str, tmp_path: Path,
) -> None:
    if "settlement.csv" in args:  # a file that exists, so the mapping is what is wrong
        (tmp_path / "settlement.csv").write_text("a,b\n1,2\n")
    result = run_gateway(args, env, tmp_path)
    assert "Traceback" not in result.stderr
    assert "pw-must-not-echo" not in result.stderr
    assert said in result.stderr, result.stderr
    assert result.returncode == code, result.stderr
    if "invalid configuration:" not in said and args[:2] != ("keywords", "check"):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

