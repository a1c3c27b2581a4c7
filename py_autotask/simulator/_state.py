"""Everything one simulated Autotask database holds: metadata, records, clock, limits, journal."""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from .._memory import trim_heap
from ._config import SimulatorConfig
from ._faults import Faults
from ._journal import ChangeFeed, Journal
from ._limits import AttachmentBudget, Clock, HourlyBudget, ThreadLimiter
from ._metadata import Schema
from ._ops import Ops
from ._store import Store
from ._webhooks import WebhookEngine

__all__ = ["SeedUnavailableError", "SimulatorState"]


class SeedUnavailableError(RuntimeError):
    """The seed data generator (py_autotask.simulator._seed) is not installed."""


class SimulatorState:
    def __init__(
        self,
        schemas_dir: str | Path | None = None,
        config: SimulatorConfig | None = None,
        *,
        seed: int = 42,
        profile: str | None = "tiny",
        counts: Mapping[str, int] | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.schema = Schema(schemas_dir)
        self.store = Store(self.schema, self.config.db_path)
        self.clock = Clock(self.config.time_scale)
        self.budget = HourlyBudget(
            self.clock, self.config.hourly_threshold, self.config.threshold_timeframe_minutes
        )
        self.threads = ThreadLimiter()
        self.attachments = AttachmentBudget(
            self.clock, self.config.attachment_window_bytes, self.config.attachment_window_seconds
        )
        self.journal = Journal(self.config.journal_max_entries)
        self.changes = ChangeFeed(self.config.change_feed_max_events)
        self.faults = Faults(self.config.fault_seed)
        self.ops = Ops(self)
        self.webhooks = WebhookEngine(self)
        self.seed_value = seed
        self.profile = profile
        self.counts = dict(counts) if counts else None
        self.seeded: dict[str, int] = {}
        self._lock = threading.RLock()
        self._entity_descriptions: bytes | None = None
        self._snapshot: Any = None

    # -- data --------------------------------------------------------------------------------------
    def load_seed(
        self,
        profile: str | None = None,
        seed: int | None = None,
        counts: Mapping[str, int] | None = None,
        messy: float | None = None,
    ) -> dict[str, int]:
        """Add generated records (``py_autotask.simulator._seed.generate``) to the store;
        ``messy`` (default: the configured fraction) makes that fraction carry off-type values."""
        try:
            module = importlib.import_module("py_autotask.simulator._seed")
        except ImportError as exc:
            raise SeedUnavailableError(
                "seed data generator py_autotask.simulator._seed is not available"
            ) from exc
        generate = module.generate
        prof = profile or self.profile or "tiny"
        sd = self.seed_value if seed is None else seed
        kwargs: dict[str, Any] = {}
        fraction = self.config.messy if messy is None else float(messy)
        if fraction:
            kwargs["messy"] = fraction
        if counts or self.counts:
            kwargs["counts"] = dict(counts or self.counts or {})
        with self._lock:
            loaded = self.store.load(generate(self.schema.directory, prof, sd, **kwargs))
            for k, v in loaded.items():
                self.seeded[k] = self.seeded.get(k, 0) + v
        # the generated records are gone: give their memory back (~160 MB at 50,000 tickets)
        trim_heap()
        return loaded

    def initial_load(self) -> None:
        """Seed the configured profile (if any) and remember that state for fast resets."""
        if self.profile:
            with contextlib.suppress(SeedUnavailableError):
                self.load_seed()
        # Small databases are copied to memory for instant resets; big ones are re-seeded instead.
        if sum(self.store.counts().values()) <= self.config.snapshot_max_rows:
            self._snapshot = self.store.snapshot()

    def reset(self, *, keep_faults: bool = False, reseed: bool = True) -> None:
        """Back to the initial state: seeded records, empty journal/change feed, fresh limits."""
        with self._lock:
            if reseed and self._snapshot is not None:
                self.store.restore(self._snapshot)
            else:
                self.store.clear()
                self.seeded = {}
                if reseed and self.profile:
                    with contextlib.suppress(SeedUnavailableError):
                        self.load_seed()
            self.journal.clear()
            self.changes.clear()
            self.webhooks.reset()
            self.budget.reset()
            self.attachments.reset()
            if not keep_faults:
                self.faults.clear()
            self.faults.reseed(self.config.fault_seed)

    def close(self) -> None:
        self.webhooks.close()
        self.store.close()
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None

    # -- metadata ------------------------------------------------------------------------------------
    def entity_descriptions(self) -> bytes:
        if self._entity_descriptions is None:
            infos = []
            for meta in self.schema:
                doc = orjson.loads(meta.raw("entityInformation"))
                infos.append({"info": doc.get("info", doc)})
            self._entity_descriptions = orjson.dumps({"entityDescriptions": infos})
        return self._entity_descriptions

    def describe(self) -> dict[str, Any]:
        return {
            "entities": len(self.schema.entities),
            "records": self.store.counts(),
            "profile": self.profile,
            "seed": self.seed_value,
            "clock": self.clock.to_dict(),
            "threshold": {
                "externalRequestThreshold": self.budget.threshold,
                "requestThresholdTimeframe": self.budget.timeframe_minutes,
                "currentTimeframeRequestCount": self.budget.current(),
            },
            "inFlight": self.threads.snapshot(),
            "changeSequence": self.changes.last_sequence,
            "faults": [r.to_dict() for r in self.faults.rules()],
        }
