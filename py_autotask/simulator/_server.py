"""Run the simulator: in a background thread (``Simulator``) or in the foreground (``serve``)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from ._app import SimulatorApp, create_app
from ._config import SimulatorConfig
from ._faults import FaultRule, Faults
from ._journal import ChangeEvent, JournalEntry
from ._limits import Clock
from ._state import SimulatorState
from ._webhooks import Delivery, WebhookEngine

__all__ = ["Simulator"]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # background thread: leave signals alone
        return None


class Simulator:
    """A real HTTP Autotask simulator on a background thread.

    ``with Simulator(seed=42, profile="tiny") as sim:`` then point a client at ``sim.url``
    (the ``.../ATServicesRest/V1.0/`` base) with ``**sim.credentials``. Keyword arguments not listed
    here are :class:`SimulatorConfig` fields (``thread_limit=3``, ``hourly_threshold=10_000``,
    ``time_scale=60`` ...).
    """

    def __init__(
        self,
        schemas_dir: str | Path | None = None,
        *,
        seed: int = 42,
        profile: str | None = "tiny",
        counts: Mapping[str, int] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        config: SimulatorConfig | None = None,
        startup_timeout: float = 30.0,
        log_level: str = "warning",
        **options: Any,
    ) -> None:
        cfg = config or SimulatorConfig()
        for key, value in options.items():
            if not hasattr(cfg, key):
                raise TypeError(f"unknown Simulator option {key!r}")
            setattr(cfg, key, value)
        self.config = cfg
        self.state = SimulatorState(schemas_dir, cfg, seed=seed, profile=profile, counts=counts)
        self.app: SimulatorApp = create_app(self.state)
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._loaded = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Simulator:
        if self._thread is not None:
            return self
        if not self._loaded:
            self.state.initial_load()
            self._loaded = True
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level=self.log_level,
            lifespan="off",
            access_log=False,
            timeout_keep_alive=30,
            backlog=2048,
        )
        server = _Server(config)
        self._server = server
        self._sock = sock

        def run() -> None:
            asyncio.run(server.serve(sockets=[sock]))

        self._thread = threading.Thread(
            target=run, name=f"autotask-simulator:{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the simulator server thread exited during startup")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("the simulator did not start in time")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout)
        self._thread = None
        self._server = None
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self.stop()
        self.state.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- addresses and credentials -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def zone_url(self) -> str:
        """``.../ATServicesRest/`` as zoneInformation reports it."""
        return f"{self.base_url}/ATServicesRest/"

    @property
    def url(self) -> str:
        """The ``.../ATServicesRest/V1.0/`` API base."""
        return f"{self.base_url}/ATServicesRest/V1.0/"

    @property
    def credentials(self) -> dict[str, str]:
        """Keyword arguments for ``py_autotask.Client``: the first API user plus ``api_url``."""
        user = self.config.users[0]
        return {
            "username": user.username,
            "secret": user.secret,
            "integration_code": self.config.integration_codes[0],
            "api_url": self.url,
        }

    @property
    def environ(self) -> dict[str, str]:
        """``AUTOTASK_USERNAME`` / ``_SECRET`` / ``_INTEGRATION_CODE`` / ``_API_URL`` for the first
        API user: point ``AutotaskClient()`` or the ``py-autotask`` CLI at this simulator, e.g.
        ``subprocess.run([...], env={**os.environ, **sim.environ})``."""
        c = self.credentials
        return {
            "AUTOTASK_USERNAME": c["username"],
            "AUTOTASK_SECRET": c["secret"],
            "AUTOTASK_INTEGRATION_CODE": c["integration_code"],
            "AUTOTASK_API_URL": c["api_url"],
        }

    @property
    def headers(self) -> dict[str, str]:
        """The Autotask auth headers for the first API user."""
        c = self.credentials
        return {
            "ApiIntegrationCode": c["integration_code"],
            "UserName": c["username"],
            "Secret": c["secret"],
        }

    # -- control -----------------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def faults(self) -> Faults:
        return self.state.faults

    def add_fault(self, rule: dict[str, Any] | None = None, **kwargs: Any) -> FaultRule:
        return self.state.faults.add(rule, **kwargs)

    def journal(self, **filters: Any) -> list[JournalEntry]:
        """Requests received so far (filters: method, entity, operation, status, outcome, since)."""
        return self.state.journal.entries(**filters)

    def clear_journal(self) -> None:
        self.state.journal.clear()

    def changes(self, since: int = 0, entity: str | None = None) -> list[ChangeEvent]:
        return self.state.changes.since(since, entity)

    @property
    def webhooks(self) -> WebhookEngine:
        """Webhook callouts: ``pause()`` / ``resume()``, ``configure(drop=0.1, ...)``,
        ``wait_idle()``, ``deliveries()``."""
        return self.state.webhooks

    def webhook_deliveries(self, **filters: Any) -> list[Delivery]:
        """Callout attempts so far (filters: webhook_id, outcome, since_change), each with its
        attempt number, status, latency and the virtual time its change was committed."""
        return self.state.webhooks.deliveries(**filters)

    def reset(self, *, keep_faults: bool = False, drain_timeout: float = 10.0) -> None:
        """Back to the seeded records with an empty journal, change feed and fresh limits.

        First waits up to ``drain_timeout`` seconds for requests still being served (a request
        abandoned by a client whose test already ended, sleeping in an injected latency) to
        finish: otherwise they would hold thread-limit slots in the next test and land in its
        journal. Requests still running after that keep their slots until they end.
        """
        deadline = time.monotonic() + max(0.0, drain_timeout)
        while self.state.threads.snapshot() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.state.reset(keep_faults=keep_faults)

    def seed(
        self,
        profile: str | None = None,
        seed: int | None = None,
        counts: Mapping[str, int] | None = None,
    ) -> dict[str, int]:
        return self.state.load_seed(profile, seed, counts)

    def preload_threshold(self, count: int, age_seconds: float = 0.0) -> None:
        self.state.budget.preload(count, age_seconds)
