"""The simulator in its own process, for benchmarks that must not share the GIL with the client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Any

import httpx

from py_autotask.simulator._config import (
    DEFAULT_INTEGRATION_CODE,
    DEFAULT_SECRET,
    DEFAULT_USERNAME,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SimulatorProcess:
    """``python -m py_autotask.simulator serve`` on a free port; control plane over HTTP."""

    def __init__(self, *args: str, startup_timeout: float = 60.0) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "py_autotask.simulator",
                "serve",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *args,
            ],
            stdout=subprocess.DEVNULL,
        )
        self.root = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.root}/ATServicesRest/V1.0/"
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                httpx.get(self.root + "/_sim/state", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the simulator process did not start") from None
                time.sleep(0.1)

    @property
    def credentials(self) -> dict[str, str]:
        return {
            "username": DEFAULT_USERNAME,
            "secret": DEFAULT_SECRET,
            "integration_code": DEFAULT_INTEGRATION_CODE,
            "api_url": self.url,
        }

    @property
    def headers(self) -> dict[str, str]:
        return {
            "UserName": DEFAULT_USERNAME,
            "Secret": DEFAULT_SECRET,
            "ApiIntegrationCode": DEFAULT_INTEGRATION_CODE,
        }

    def add_fault(self, rule: dict[str, Any]) -> None:
        httpx.post(self.root + "/_sim/faults", json=rule).raise_for_status()

    def journal(self) -> list[dict[str, Any]]:
        response = httpx.get(self.root + "/_sim/journal", timeout=60)
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()
        return entries

    def clear_journal(self) -> None:
        httpx.delete(self.root + "/_sim/journal").raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
