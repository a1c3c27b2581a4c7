"""Private Redis and PostgreSQL servers for the tests, on free ports in temporary folders.

The fixtures in ``tests/conftest.py`` start them once per test session (per xdist worker) and stop
them afterwards. A machine without the binaries gets a clear failure naming what to install;
``.ci/run`` installs them with apt-get.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


class ServerUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerUnavailable(f"server on port {port} did not accept connections within {timeout}s")


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable(
                "redis-server is not installed: apt-get install redis-server (.ci/run does this)"
            )
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise ServerUnavailable(
            "PostgreSQL server binaries are missing: apt-get install postgresql (.ci/run does this)"
        )
    return found[-1]


class PostgresServer:
    """A throwaway cluster (initdb) run as the ``postgres`` user when we are root."""

    def __init__(self, workdir: Path) -> None:
        initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
        self.port = free_port()
        self.datadir = workdir / "pgdata"
        workdir.mkdir(parents=True, exist_ok=True)
        prefix: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise ServerUnavailable(
                    "running as root needs runuser to start PostgreSQL as the postgres user"
                )
            shutil.chown(workdir, "postgres")
            os.chmod(workdir, 0o700)
            prefix = ["runuser", "-u", "postgres", "--"]
            # runuser keeps the cwd: make sure postgres may traverse up to workdir
            for parent in list(workdir.parents)[:-1]:
                with contextlib.suppress(PermissionError):
                    os.chmod(parent, os.stat(parent).st_mode | 0o011)
        out = subprocess.run(
            [
                *prefix,
                initdb,
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            cwd="/",
        )
        if out.returncode != 0:
            raise ServerUnavailable(f"initdb failed: {out.stderr.strip()}")
        self.proc = subprocess.Popen(
            [
                *prefix,
                postgres,
                "-D",
                str(self.datadir),
                "-p",
                str(self.port),
                "-k",
                str(workdir),
                "-h",
                "127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
        )
        _wait_port(self.port)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        """The port opens before the server accepts sessions ("the database system is starting
        up"): wait for a real query to succeed."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise ServerUnavailable(f"PostgreSQL did not accept sessions: {exc}") from exc
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
