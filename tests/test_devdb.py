"""The dev cluster: finding server binaries, persistence across restarts, the CLI.

The session's throwaway cluster (conftest `pg_url`) already proves the
throwaway path; here the persistent mode runs through the same command line
the Makefile uses, in a subprocess, so a server that kept our stdout open
would hang the test instead of hanging `make demo`.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from gateway.devdb import (
    DEMO_COMMENT,
    NOT_FOUND_MESSAGE,
    BinariesNotFound,
    DevDbError,
    LocalPostgres,
    find_binaries,
    is_reachable_by,
)
from gateway.store import demo_marker

ROOT = Path(__file__).resolve().parents[1]
# The checkout first, then whatever the caller had (an uninstalled tree still imports).
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


def fake_bindir(path: Path, names: tuple[str, ...] = ("initdb", "pg_ctl", "postgres")) -> Path:
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_text("#!/bin/sh\nexit 0\n", encoding="ascii")
        (path / name).chmod(0o755)
    return path


def test_nothing_found_says_what_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BinariesNotFound) as caught:
        find_binaries({"PATH": str(empty)}, debian_root=empty)
    assert str(caught.value) == NOT_FOUND_MESSAGE
    assert "apt-get install postgresql" in NOT_FOUND_MESSAGE


def test_pg_bindir_without_binaries_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    other = fake_bindir(tmp_path / "other")
    with pytest.raises(BinariesNotFound, match=r"PG_BINDIR=.*empty has no initdb/pg_ctl") as caught:
        find_binaries({"PG_BINDIR": str(empty), "PATH": str(other)}, debian_root=empty)
    assert NOT_FOUND_MESSAGE in str(caught.value)


def test_pg_bindir_wins_then_newest_debian_version_then_path(tmp_path: Path) -> None:
    debian = tmp_path / "debian"
    for version in ("9.6", "15", "10"):
        fake_bindir(debian / version / "bin")
    fake_bindir(debian / "16" / "bin", names=("initdb",))  # incomplete: skipped
    explicit = fake_bindir(tmp_path / "explicit")
    on_path = fake_bindir(tmp_path / "on_path")
    nowhere = tmp_path / "nowhere"

    assert find_binaries({"PG_BINDIR": str(explicit)}, debian_root=debian).initdb == (
        explicit / "initdb"
    )
    assert find_binaries({"PATH": str(on_path)}, debian_root=debian).pg_ctl == (
        debian / "15" / "bin" / "pg_ctl"
    )
    assert find_binaries({"PATH": str(on_path)}, debian_root=nowhere).initdb == (on_path / "initdb")


def test_reachability_follows_every_parent(tmp_path: Path) -> None:
    stranger = pwd.struct_passwd(("stranger", "x", 54321, 54321, "", "/", "/bin/sh"))
    base = Path(tempfile.mkdtemp(prefix="reach-"))  # under the system temp dir (1777)
    try:
        base.chmod(0o711)
        private = base / "private"
        private.mkdir(mode=0o700)
        private.chmod(0o700)
        assert not is_reachable_by(private / "data", stranger)
        private.chmod(0o711)
        assert is_reachable_by(private / "data", stranger)
    finally:
        private.chmod(0o700)
        private.rmdir()
        base.rmdir()


def test_throwaway_refuses_a_directory_holding_a_cluster(tmp_path: Path) -> None:
    data = Path(tempfile.mkdtemp(prefix="gateway-pg-test-"))
    try:
        (data / "PG_VERSION").write_text("15\n", encoding="ascii")
        with pytest.raises(DevDbError, match="already holds a cluster"):
            LocalPostgres(data, throwaway=True).start()
    finally:
        (data / "PG_VERSION").unlink()
        data.rmdir()


def devdb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.devdb", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        timeout=120,
        check=False,
    )


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    # tempfile, not tmp_path: under root, pytest's 0700 base dir would send the
    # cluster to a fallback dir and the test would not see the path it asked for.
    base = Path(tempfile.mkdtemp(prefix="gateway-pg-test-"))
    base.chmod(0o755)
    try:
        yield base / "pg"
    finally:
        devdb("stop", "--dir", str(base / "pg"))
        shutil.rmtree(base)


async def test_persistent_cluster_keeps_data_and_port_across_restarts(cluster_dir: Path) -> None:
    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(devdb, *args, "--dir", str(cluster_dir))

    started = await run("start")
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith("/gateway")

    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('hello')")
    await conn.close()

    assert (await run("start")).stdout.strip() == url  # adopts the running cluster
    assert (await run("status")).stdout.strip() == url
    assert (await run("stop")).returncode == 0
    assert (await run("status")).returncode == 3

    assert (await run("start")).stdout.strip() == url  # same port again
    conn = await asyncpg.connect(url)
    assert await conn.fetchval("SELECT note FROM kept") == "hello"
    assert await demo_marker.database_comment(conn) is None  # not the demo's unless asked
    await conn.close()

    assert (await run("start", "--demo")).stdout.strip() == url  # what `make demo` runs
    conn = await asyncpg.connect(url)
    assert await demo_marker.database_comment(conn) == DEMO_COMMENT
    await conn.close()
