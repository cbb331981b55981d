"""A private PostgreSQL cluster built from the machine's own server binaries.

Why not Docker or a server wheel: tests and `make demo` must run on a bare
Debian box and in CI where no container engine exists, and the distro's
`postgresql` package is one apt-get away. A private cluster per test session
means no shared rows, no password and no clash with a system server.

Why the throwaway cluster runs with fsync=off and full_page_writes=off: those
only protect data against an operating-system crash or power loss. The tests
kill the gateway, never the machine, and the data is discarded afterwards, so
durability there buys nothing but seconds. The persistent `make demo` cluster
keeps PostgreSQL's safe defaults.

PostgreSQL refuses to run as root (CI runs as root), so under root every
server command runs as the `postgres` user on a data directory it owns.

`start --demo` marks the database as the demo's (a database comment,
DEMO_COMMENT): `gateway demo seed` writes made-up supporters only into a
database carrying it, so a DATABASE_URL pointing at real data is refused.
Why here: only the cluster manager that made the database for `make demo`
may say it is a throwaway; no command of the gateway can mark one.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import concurrent.futures
import contextlib
import grp
import hashlib
import os
import pwd
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import asyncpg

NOT_FOUND_MESSAGE = (
    "PostgreSQL server binaries not found (initdb, pg_ctl). Install the Debian package "
    "'postgresql' (apt-get install postgresql) or set PG_BINDIR or DATABASE_URL."
)
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
DATABASE = "gateway"
PORT_FILE = "gateway-devdb.port"
LOG_FILE = "server.log"
START_TIMEOUT_S = 60
DEMO_COMMENT = "gateway demo database: made-up data for make demo; never real supporters"
MARK_DEMO = "SELECT format('COMMENT ON DATABASE %I IS %L', current_database(), $1::text)"
# A unix socket path must fit in sockaddr_un (108 bytes incl. the socket file name).
MAX_SOCKET_DIR_LEN = 80


class DevDbError(RuntimeError):
    """The dev cluster could not be created, started or stopped; the message says why."""


class BinariesNotFound(DevDbError):
    pass


@dataclass(frozen=True)
class ServerBinaries:
    initdb: Path
    pg_ctl: Path


def find_binaries(
    environ: Mapping[str, str] | None = None, *, debian_root: Path = DEBIAN_ROOT
) -> ServerBinaries:
    """$PG_BINDIR, then the newest Debian version directory, then PATH."""
    env = os.environ if environ is None else environ
    if env.get("PG_BINDIR"):
        bindir = Path(env["PG_BINDIR"])
        found = _binaries_in(bindir)
        if found is None:
            raise BinariesNotFound(f"PG_BINDIR={bindir} has no initdb/pg_ctl. {NOT_FOUND_MESSAGE}")
        return found
    for bindir in sorted(debian_root.glob("*/bin"), key=_version_key, reverse=True):
        found = _binaries_in(bindir)
        if found is not None:
            return found
    search_path = env.get("PATH", "")
    names = {
        name: shutil.which(name, path=search_path) for name in ("initdb", "pg_ctl", "postgres")
    }
    initdb, pg_ctl = names["initdb"], names["pg_ctl"]
    if initdb is None or pg_ctl is None or names["postgres"] is None:
        raise BinariesNotFound(NOT_FOUND_MESSAGE)
    return ServerBinaries(initdb=Path(initdb).absolute(), pg_ctl=Path(pg_ctl).absolute())


def _binaries_in(bindir: Path) -> ServerBinaries | None:
    paths = [bindir / name for name in ("initdb", "pg_ctl", "postgres")]
    if all(path.is_file() and os.access(path, os.X_OK) for path in paths):
        return ServerBinaries(initdb=paths[0].absolute(), pg_ctl=paths[1].absolute())
    return None


def _version_key(bindir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bindir.parent.name.split("."))
    except ValueError:
        return (-1,)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As PostgreSQL does: a port in TIME_WAIT after our own restart is still ours.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LocalPostgres:
    """One cluster in one data directory; `start()` returns its DATABASE_URL.

    throwaway=True: the directory must be new or empty, the cluster is tuned
    for speed and deleted by `stop()`. throwaway=False: an existing cluster is
    reused (and a running one adopted) so `make demo` keeps its data.
    """

    def __init__(self, data_dir: Path, *, port: int | None = None, throwaway: bool,
                 demo: bool = False) -> None:
        self.requested_dir = Path(data_dir).absolute()
        self.demo = demo  # mark the database as the demo's (DEMO_COMMENT)
        self.data_dir = self.requested_dir
        self.throwaway = throwaway
        self.port = port
        self.url: str | None = None
        self.notes: list[str] = []
        self._binaries: ServerBinaries | None = None
        self._created = False  # by this instance, so a failed start may delete it

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def binaries(self) -> ServerBinaries:
        if self._binaries is None:
            self._binaries = find_binaries()
        return self._binaries

    def start(self) -> str:
        if self.url is not None:
            return self.url
        try:
            return self._start()
        except BaseException:
            if self.throwaway and self._created:
                with contextlib.suppress(DevDbError, OSError):
                    self.stop()  # no half-made cluster left running or lying in /tmp
            raise

    def _start(self) -> str:
        self.data_dir = self._prepare_data_dir()
        self._created = self.data_dir != self.requested_dir
        if (self.data_dir / "PG_VERSION").exists():
            if self.throwaway:
                raise DevDbError(
                    f"{self.data_dir} already holds a cluster; a throwaway one needs an empty dir"
                )
            running_port = self._running_port()
            if running_port is not None:
                self.port = running_port
                return self._finish_start()
        else:
            self._created = True
            self._initdb()
        self._start_server()
        return self._finish_start()

    def stop(self) -> None:
        """Stop the server; a throwaway cluster's files are deleted too."""
        atexit.unregister(self.stop)
        if (self.data_dir / "PG_VERSION").exists() and self._running_port() is not None:
            mode = "immediate" if self.throwaway else "fast"
            self._pg_ctl("stop", "-m", mode, "-w", "-t", str(START_TIMEOUT_S))
        if self.throwaway:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.url = None

    def restart(self, *, mode: str = "fast") -> None:
        """Restart the server on the same port; mode "immediate" is a crash and recovery."""
        self._pg_ctl("restart", "-m", mode, "-w", "-t", str(START_TIMEOUT_S),
                     "-l", str(self.data_dir / LOG_FILE))

    def is_running(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self._running_port() is not None

    # -- directory ---------------------------------------------------------------------------

    def _prepare_data_dir(self) -> Path:
        """As root, the `postgres` user must own the directory and reach it from /."""
        if os.geteuid() != 0:
            self.requested_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            return self.requested_dir
        user = _server_user()
        data_dir = self.requested_dir
        if not is_reachable_by(data_dir, user):
            data_dir = self._fallback_dir()
            self._note(
                f"{self.requested_dir} is not reachable by the '{SERVER_USER}' user; "
                f"using {data_dir} instead"
            )
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chown(data_dir, user.pw_uid, user.pw_gid)
        data_dir.chmod(0o700)
        if not is_reachable_by(data_dir, user):
            raise DevDbError(f"{data_dir}: the '{SERVER_USER}' user cannot reach this directory")
        return data_dir

    def _fallback_dir(self) -> Path:
        if self.throwaway:
            return Path(tempfile.mkdtemp(prefix="gateway-pg-"))
        # Deterministic so `devdb stop --dir X` finds what `devdb start --dir X` made.
        digest = hashlib.sha256(str(self.requested_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"gateway-pg-{digest}"

    def _note(self, message: str) -> None:
        self.notes.append(message)
        print(f"devdb: {message}", file=sys.stderr)

    # -- server commands -----------------------------------------------------------------------

    def _initdb(self) -> None:
        initdb_args = ["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]
        self._run(
            [str(self.binaries.initdb), "-D", str(self.data_dir), *initdb_args], what="initdb"
        )
        settings = {"listen_addresses": "'127.0.0.1'", "max_connections": "200"}
        socket_dir = str(self.data_dir)
        settings["unix_socket_directories"] = (
            f"'{socket_dir}'" if len(socket_dir) <= MAX_SOCKET_DIR_LEN else "''"
        )
        if self.throwaway:
            settings |= {"fsync": "off", "full_page_writes": "off"}
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# gateway.devdb\n" + lines)

    def _start_server(self) -> None:
        chosen = self.port
        attempts = 1 if chosen is not None else 3
        for attempt in range(attempts):
            port = chosen if chosen is not None else self._stored_or_free_port(attempt)
            try:
                self._pg_ctl(
                    "start",
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "-l",
                    str(self.data_dir / LOG_FILE),
                    "-o",
                    f"-p {port}",
                )
            except DevDbError:
                if attempt + 1 == attempts:
                    raise
                continue
            self.port = port
            (self.data_dir / PORT_FILE).write_text(f"{port}\n", encoding="ascii")
            return

    def _stored_or_free_port(self, attempt: int) -> int:
        stored = self._stored_port()
        if attempt == 0 and stored is not None and _port_is_free(stored):
            return stored
        return free_port()

    def _stored_port(self) -> int | None:
        try:
            return int((self.data_dir / PORT_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def _running_port(self) -> int | None:
        """The port from postmaster.pid (line 4) when `pg_ctl status` says it runs."""
        status = self._run_raw([str(self.binaries.pg_ctl), "status", "-D", str(self.data_dir)])
        if status.returncode != 0:
            return None
        try:
            lines = (self.data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
            return int(lines[3])
        except (OSError, ValueError, IndexError):
            return self._stored_port()

    def _finish_start(self) -> str:
        assert self.port is not None
        _ensure_database(self.port, demo=self.demo)
        if self.throwaway:
            atexit.register(self.stop)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"
        return self.url

    def _pg_ctl(self, *args: str) -> None:
        self._run(
            [str(self.binaries.pg_ctl), "-D", str(self.data_dir), *args], what="pg_ctl " + args[0]
        )

    def _run(self, argv: list[str], *, what: str) -> None:
        result = self._run_raw(argv)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise DevDbError(
                f"{what} failed (exit {result.returncode}): {output}{self._log_tail()}"
            )

    def _run_raw(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_server_user(argv),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd="/",
            check=False,
        )

    def _log_tail(self) -> str:
        try:
            lines = (self.data_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\nserver log:\n" + "\n".join(lines.splitlines()[-15:])


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise DevDbError(
            f"running as root, PostgreSQL needs the unprivileged '{SERVER_USER}' user "
            "(apt-get install postgresql creates it); or run as a normal user"
        ) from None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_USER, "--", *argv]
    if shutil.which("su"):
        return ["su", "-s", "/bin/sh", SERVER_USER, "-c", shlex.join(["exec", *argv])]
    raise DevDbError("running as root: need runuser or su to run PostgreSQL as 'postgres'")


def is_reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Can `user` traverse every existing ancestor of `path`? (Missing ones we create 0755.)"""
    groups = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem}
    for parent in path.parents:
        try:
            info = parent.stat()
        except FileNotFoundError:
            continue
        if info.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


async def mark_demo(conn: asyncpg.Connection) -> None:
    """Mark the connection's database as a demo database (what `gateway demo seed` asks)."""
    await conn.execute(await conn.fetchval(MARK_DEMO, DEMO_COMMENT))


def _ensure_database(port: int, *, demo: bool = False) -> None:
    async def create() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user="postgres", database="postgres", timeout=10
        )
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()
        if demo:
            conn = await asyncpg.connect(
                host="127.0.0.1", port=port, user="postgres", database=DATABASE, timeout=10)
            try:
                await mark_demo(conn)
            finally:
                await conn.close()

    # A worker thread has no running event loop, so this also works when the
    # caller is inside one (an async fixture, a running app).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, create()).result()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.devdb", description="Local PostgreSQL for development."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start (creating if needed); print DATABASE_URL")
    start.add_argument("--dir", type=Path, required=True, help="data directory")
    start.add_argument("--port", type=int, default=None, help="default: last used, else free")
    start.add_argument("--demo", action="store_true",
                       help="mark the database as the demo's (gateway demo seed needs it)")
    for name, text in (("stop", "stop the cluster"), ("status", "print the URL if running")):
        sub.add_parser(name, help=text).add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    cluster = LocalPostgres(args.dir, port=getattr(args, "port", None), throwaway=False,
                            demo=getattr(args, "demo", False))
    try:
        if args.command == "start":
            print(cluster.start())
        elif args.command == "stop":
            cluster.data_dir = _existing_dir(cluster)
            cluster.stop()
        else:
            cluster.data_dir = _existing_dir(cluster)
            port = cluster._running_port() if (cluster.data_dir / "PG_VERSION").exists() else None
            if port is None:
                print("not running", file=sys.stderr)
                return 3
            print(f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}")
    except DevDbError as err:
        print(f"devdb: {err}", file=sys.stderr)
        return 1
    return 0


def _existing_dir(cluster: LocalPostgres) -> Path:
    """Where `start` put the cluster: the requested dir, or its root fallback."""
    if (cluster.requested_dir / "PG_VERSION").exists() or os.geteuid() != 0:
        return cluster.requested_dir
    return cluster._fallback_dir()


if __name__ == "__main__":
    sys.exit(main())
