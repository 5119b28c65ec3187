"""A real, throwaway PostgreSQL server for the load proofs.

Debian's ``postgresql`` package: ``initdb`` into a temp dir owned by ``postgres`` (the server refuses
to run as root), listening on 127.0.0.1 on a free port. Skips when no server binary exists, unless
``SYNTH_REQUIRE_POSTGRES=1`` (CI), where a missing server is a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def postgres_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def require_postgres() -> Path:
    bindir = postgres_bin()
    reason = None
    if bindir is None:
        reason = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); run scripts/install_postgres.sh"
    elif os.geteuid() == 0 and shutil.which("runuser") is None:
        reason = "running as root without runuser: cannot start PostgreSQL as the postgres user"
    if reason:
        if os.environ.get("SYNTH_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"SYNTH_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    assert bindir is not None
    return bindir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    port: int
    user: str

    def connect(self, dbname: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=dbname, autocommit=True)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bindir = require_postgres()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    user = "postgres" if as_root else os.environ.get("USER", "postgres")
    base = Path(tempfile.mkdtemp(prefix="synth-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_root:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    port = free_port()
    try:
        subprocess.run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off -c full_page_writes=off"
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(base / "server.log"),
                "-o",
                opts,
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        server = PostgresServer(port, user)
        for _ in range(50):
            try:
                server.connect().close()
                break
            except Exception:
                time.sleep(0.1)
        yield server
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)
