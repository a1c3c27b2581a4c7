"""Fault injection rules: match a request, then fail it, slow it or break its connection.

Rule (JSON-able dict, also accepted by ``POST /_sim/faults``)::

    {
      "match": {"method": "POST", "entity": "Tickets", "operation": "create", "path": "/query"},
      "effect": {"type": "status", "status": 503},      # or "sequence": [effect | "ok", ...]
      "probability": 1.0,                                # seeded RNG (SimulatorConfig.fault_seed)
      "count": 2                                         # fire at most N times (default: unlimited)
    }

Effect types: ``status`` (any status; ``errors`` list or raw ``body``; optional ``retry_after``),
``throttle`` (429 + Itgenatr005 thread-limit body), ``validation`` (500 + errors[]),
``opaque`` (500 with a non-JSON body), ``latency`` (``dist`` fixed|uniform|lognormal with
``seconds`` | ``low``/``high`` | ``median``/``sigma``, plus optional ``per_record`` seconds),
``malformed`` (200, invalid JSON), ``truncated`` (body cut short, connection closed),
``empty`` (200, empty body), ``reset`` (connection closed without a response),
``commit_then_drop`` (the request is applied, then the connection is closed without a response)
and ``commit_then_delay`` (the request is applied, the response is held ``seconds`` first).
Match keys are optional and case-insensitive; ``path`` is a substring of the request path.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EFFECT_TYPES", "FaultRule", "Faults"]

EFFECT_TYPES = frozenset(
    {
        "status",
        "throttle",
        "validation",
        "opaque",
        "latency",
        "malformed",
        "truncated",
        "empty",
        "reset",
        "commit_then_drop",
        "commit_then_delay",
    }
)
_ids = itertools.count(1)


def _check_effect(effect: Any) -> dict[str, Any] | None:
    if effect in (None, "ok"):
        return None
    if isinstance(effect, (int, str)) and str(effect).isdigit():
        return {"type": "status", "status": int(effect)}
    if isinstance(effect, str):
        effect = {"type": effect}
    if not isinstance(effect, dict) or effect.get("type") not in EFFECT_TYPES:
        raise ValueError(f"unknown fault effect {effect!r}; types: {sorted(EFFECT_TYPES)}")
    if effect["type"] == "status" and not isinstance(effect.get("status"), int):
        raise ValueError("a 'status' effect needs an integer 'status'")
    return dict(effect)


@dataclass
class FaultRule:
    effect: dict[str, Any] | None = None
    sequence: list[dict[str, Any] | None] | None = None
    match: dict[str, str] = field(default_factory=dict)
    probability: float = 1.0
    count: int | None = None
    id: str = ""
    fired: int = 0
    matched: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        if not isinstance(data, dict):
            raise ValueError("a fault rule must be an object")
        seq = data.get("sequence")
        effect = _check_effect(data.get("effect")) if "effect" in data else None
        sequence = [_check_effect(e) for e in seq] if isinstance(seq, list) else None
        if effect is None and sequence is None:
            raise ValueError("a fault rule needs 'effect' or 'sequence'")
        match = {
            str(k).lower(): str(v) for k, v in (data.get("match") or {}).items() if v is not None
        }
        prob = float(data.get("probability", 1.0))
        if not 0.0 <= prob <= 1.0:
            raise ValueError("probability must be within 0..1")
        count = data.get("count")
        return cls(
            effect=effect,
            sequence=sequence,
            match=match,
            probability=prob,
            count=int(count) if count is not None else None,
            id=str(data.get("id") or f"fault-{next(_ids)}"),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def matches(self, method: str, entity: str | None, operation: str | None, path: str) -> bool:
        m = self.match
        if "method" in m and m["method"].upper() != method.upper():
            return False
        if "entity" in m and m["entity"].lower() != (entity or "").lower():
            return False
        if "operation" in m and m["operation"].lower() != (operation or "").lower():
            return False
        return not ("path" in m and m["path"].lower() not in path.lower())

    @property
    def spent(self) -> bool:
        if self.count is not None and self.fired >= self.count:
            return True
        return self.sequence is not None and self.matched >= len(self.sequence)


class Faults:
    """The active rule list plus the seeded RNGs that decide and shape faults."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._seed = seed
        self._rng = random.Random(seed)
        self._latency_rng = random.Random(seed + 1)

    def add(self, rule: dict[str, Any] | FaultRule | None = None, **kwargs: Any) -> FaultRule:
        """Add a rule (a dict in the documented format, a FaultRule or the same as keywords)."""
        if rule is None:
            rule = kwargs
        r = rule if isinstance(rule, FaultRule) else FaultRule.from_dict(rule)
        with self._lock:
            self._rules.append(r)
        return r

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._seed = seed
            self._rng = random.Random(seed)
            self._latency_rng = random.Random(seed + 1)

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(
        self, method: str, entity: str | None, operation: str | None, path: str
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[str]]:
        """Latency effects (all matching), the first terminal effect, and the ids that fired."""
        latencies: list[dict[str, Any]] = []
        terminal: dict[str, Any] | None = None
        fired: list[str] = []
        with self._lock:
            for r in self._rules:
                if r.spent or not r.matches(method, entity, operation, path):
                    continue
                if r.sequence is not None:
                    effect = r.sequence[r.matched]
                    r.matched += 1
                else:
                    r.matched += 1
                    if r.probability < 1.0 and self._rng.random() >= r.probability:
                        continue
                    effect = r.effect
                if effect is None:
                    continue
                if effect["type"] == "latency":
                    latencies.append(effect)
                elif terminal is None:
                    terminal = effect
                else:
                    continue
                r.fired += 1
                fired.append(r.id)
        return latencies, terminal, fired

    def latency_seconds(self, effect: dict[str, Any], records: int = 0) -> float:
        dist = str(effect.get("dist", "fixed"))
        with self._lock:
            rng = self._latency_rng
            if dist == "uniform":
                base = rng.uniform(float(effect.get("low", 0.0)), float(effect.get("high", 0.0)))
            elif dist == "lognormal":
                median = float(effect.get("median", effect.get("seconds", 0.1)))
                sigma = float(effect.get("sigma", 0.3))
                base = math.exp(rng.gauss(math.log(max(median, 1e-9)), sigma))
            else:
                base = float(effect.get("seconds", 0.0))
        return max(0.0, base + float(effect.get("per_record", 0.0)) * records)
