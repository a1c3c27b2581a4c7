"""Alerts: thresholds that call your callbacks and publish ``"alert.raised"`` on the event bus.

:class:`AlertManager` watches four conditions (:class:`AlertRules`):

- ``budget_used``: the tenant's hourly budget used above a fraction (warning; critical when used
  up), read after every ThresholdInformation poll the pacing makes;
- ``breaker_open``: a circuit breaker opened (critical), checked after failed attempts;
- ``sync_lag``: a sync more than N seconds behind its source (warning), from the lag sync reports;
- ``webhook_deactivated``: Autotask deactivated a webhook (critical), found by a
  :class:`~py_autotask.monitoring.HealthMonitor` run with ``webhooks=True``.

Attached to a client (``AlertManager(client)`` adds itself to ``client.observers``) it evaluates
the rules from the monitoring seam; :meth:`AlertManager.from_health` evaluates a health result.
Each alert fires once when its condition starts and again only after the condition cleared (no
alert storm while it lasts). A callback that raises is logged and skipped: it never breaks the
request that triggered it. The bus payload is ``{"name", "severity", "message", "value",
"threshold"}``; the plugin manager forwards it to plugins' ``on_alert``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from .._events import EventBus
from .._events import bus as default_bus
from .._observe import JobInfo, Observer, RequestInfo, RequestOutcome

if TYPE_CHECKING:
    from ._health import HealthStatus

__all__ = ["ALERT_TOPIC", "Alert", "AlertManager", "AlertRules", "Severity"]

_log = logging.getLogger("py_autotask.alerts")

#: the event-bus topic alerts are published under
ALERT_TOPIC: Final = "alert.raised"

Severity = Literal["warning", "critical"]

#: attempt verdicts that count towards a circuit breaker (worth looking at the breakers after)
_FAILED_KINDS: Final = frozenset({"transient", "ambiguous", "error"})


@dataclass(frozen=True)
class Alert:
    """One raised alert; ``subject`` names what it is about (an endpoint, an entity, a webhook)
    and is part of the message, not of the bus payload."""

    name: str
    severity: Severity
    message: str
    value: float | None = None
    threshold: float | None = None
    subject: str | None = None

    def payload(self) -> dict[str, Any]:
        """The ``"alert.raised"`` payload."""
        return {
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "value": self.value,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class AlertRules:
    """The thresholds; ``None`` (or ``False``) switches a rule off.

    ``budget_fraction``: warn when more than this fraction of the hourly budget is used.
    ``breaker_open``: alert when a circuit breaker opens. ``sync_lag_seconds``: warn when a sync
    reports a lag above this. ``webhook_deactivated``: alert on deactivated webhooks.
    """

    budget_fraction: float | None = 0.8
    breaker_open: bool = True
    sync_lag_seconds: float | None = None
    webhook_deactivated: bool = True

    def __post_init__(self) -> None:
        if self.budget_fraction is not None and not 0 < self.budget_fraction <= 1:
            raise ValueError(f"budget_fraction must be in (0, 1], not {self.budget_fraction!r}")
        if self.sync_lag_seconds is not None and self.sync_lag_seconds < 0:
            raise ValueError(f"sync_lag_seconds must be >= 0, not {self.sync_lag_seconds!r}")


AlertCallback = Callable[[Alert], object]


class AlertManager(Observer):
    """Evaluates :class:`AlertRules` and raises each alert once per crossing.

    ``client``: attach to it now (the manager becomes one of ``client.observers``; also later
    with :meth:`attach`). ``bus``: where alerts are published (the default event bus; ``None``
    keeps them to the callbacks). ``callbacks``: called with each :class:`Alert`.
    """

    def __init__(
        self,
        client: Any = None,
        rules: AlertRules | None = None,
        *,
        callbacks: list[AlertCallback] | None = None,
        bus: EventBus | None = default_bus,
    ) -> None:
        self.rules = rules if rules is not None else AlertRules()
        self.bus = bus
        self._callbacks: list[AlertCallback] = list(callbacks or ())
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str | None], Alert] = {}
        self._clients: list[Any] = []
        if client is not None:
            self.attach(client)

    # --- wiring ----------------------------------------------------------------------------------

    def attach(self, client: Any) -> None:
        """Evaluate the rules from ``client``'s reports (budget polls, failed attempts, lag)."""
        client.observers.add(self)
        if client not in self._clients:
            self._clients.append(client)

    def detach(self, client: Any) -> None:
        client.observers.remove(self)
        if client in self._clients:
            self._clients.remove(client)

    def on_alert(self, callback: AlertCallback) -> Callable[[], None]:
        """Call ``callback(alert)`` for every alert raised; returns the callable removing it."""
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    @property
    def active(self) -> list[Alert]:
        """The alerts whose condition still holds (raised and not cleared)."""
        with self._lock:
            return list(self._active.values())

    # --- the edge trigger --------------------------------------------------------------------------

    def evaluate(self, alert: Alert, active: bool) -> bool:
        """Raise ``alert`` if ``active`` and it is not already raised (same name and subject);
        clear it when not ``active``. Returns whether it was raised now."""
        key = (alert.name, alert.subject)
        with self._lock:
            if not active:
                self._active.pop(key, None)
                return False
            if key in self._active:
                return False
            self._active[key] = alert
            callbacks = list(self._callbacks)
        _log.warning("alert %s (%s): %s", alert.name, alert.severity, alert.message)
        for callback in callbacks:
            try:
                callback(alert)
            except Exception:
                _log.exception("alert callback %r failed on %s", callback, alert.name)
        if self.bus is not None:
            self.bus.publish(ALERT_TOPIC, alert.payload())
        return True

    def _clear_all(self, name: str, keep: set[str | None]) -> None:
        with self._lock:
            for key in [k for k in self._active if k[0] == name and k[1] not in keep]:
                del self._active[key]

    # --- rules ---------------------------------------------------------------------------------------

    def check_budget(self, used: int, limit: int, *, rejected: bool = False) -> None:
        """The budget rule on ``used`` of ``limit`` requests this hour; ``rejected``: Autotask
        just refused a request because the budget is used up."""
        fraction_at = self.rules.budget_fraction
        if fraction_at is None or limit <= 0:
            return
        fraction = used / limit
        exhausted = rejected or used >= limit
        critical = Alert(
            "budget_used",
            "critical",
            f"the hourly request budget is used up: {used} of {limit}",
            round(fraction, 4),
            1.0,
            "exhausted",
        )
        warning = Alert(
            "budget_used",
            "warning",
            f"{fraction:.0%} of the hourly request budget used ({used} of {limit}), "
            f"above {fraction_at:.0%}",
            round(fraction, 4),
            fraction_at,
            "above",
        )
        self.evaluate(warning, fraction > fraction_at)
        self.evaluate(critical, exhausted)

    def check_breakers(self, states: dict[str, str]) -> None:
        """The breaker rule on ``{endpoint: state}``."""
        if not self.rules.breaker_open:
            return
        opened = {ep for ep, state in states.items() if state == "open" and ep != "*"}
        for endpoint in sorted(opened):
            self.evaluate(
                Alert(
                    "breaker_open",
                    "critical",
                    f"the circuit breaker of {endpoint} opened: its calls fail without being sent",
                    None,
                    None,
                    endpoint,
                ),
                True,
            )
        self._clear_all("breaker_open", set(opened))

    def check_lag(self, entity: str | None, seconds: float) -> None:
        """The sync-lag rule on one lag report."""
        limit = self.rules.sync_lag_seconds
        if limit is None:
            return
        what = entity or "sync"
        self.evaluate(
            Alert(
                "sync_lag",
                "warning",
                f"{what} is {seconds:.0f}s behind its source (limit {limit:.0f}s)",
                float(seconds),
                float(limit),
                entity,
            ),
            seconds > limit,
        )

    def check_webhooks(self, deactivated: list[dict[str, Any]]) -> None:
        """The webhook rule on the deactivated webhooks (rows with ``entity``, ``id``, ``name``)."""
        if not self.rules.webhook_deactivated:
            return
        subjects: set[str | None] = set()
        for row in deactivated:
            subject = f"{row.get('entity')}:{row.get('id')}"
            subjects.add(subject)
            self.evaluate(
                Alert(
                    "webhook_deactivated",
                    "critical",
                    f"Autotask deactivated the {row.get('entity')} webhook {row.get('id')} "
                    f"({row.get('name')}): it sends no more callouts",
                    None,
                    None,
                    subject,
                ),
                True,
            )
        self._clear_all("webhook_deactivated", subjects)

    def from_health(self, status: HealthStatus) -> None:
        """Evaluate the budget, breaker and webhook rules on a health result."""
        budget = status.check("budget")
        if budget is not None and isinstance(budget.data.get("limit"), int):
            self.check_budget(int(budget.data["used"]), int(budget.data["limit"]))
        breakers = status.check("breakers")
        if breakers is not None:
            self.check_breakers(dict(breakers.data.get("states", {})))
        hooks = status.check("webhooks")
        if hooks is not None and "deactivated" in hooks.data:
            self.check_webhooks(list(hooks.data["deactivated"]))

    # --- the seam --------------------------------------------------------------------------------------

    def _snapshots(self) -> list[Any]:
        out = []
        for client in list(self._clients):
            snapshot = getattr(client, "health_snapshot", None)
            if snapshot is not None:
                out.append(snapshot())
        return out

    def request_ended(self, info: RequestInfo, token: Any, outcome: RequestOutcome) -> None:
        threshold_read = info.operation == "threshold" and outcome.status == 200
        rejected = outcome.kind == "budget"
        failed = outcome.kind in _FAILED_KINDS
        with self._lock:
            breaker_raised = any(k[0] == "breaker_open" for k in self._active)
        if not (threshold_read or rejected or failed or breaker_raised):
            return
        for health in self._snapshots():
            if (threshold_read or rejected) and health.threshold is not None:
                snap = health.threshold
                self.check_budget(
                    int(snap["currentTimeframeRequestCount"]),
                    int(snap["externalRequestThreshold"]),
                    rejected=rejected,
                )
            if failed or breaker_raised:
                self.check_breakers(dict(health.breakers))

    def lag(self, job: JobInfo | None, entity: str | None, seconds: float) -> None:
        self.check_lag(entity, seconds)

    def __repr__(self) -> str:
        return f"<AlertManager {len(self._active)} active, {len(self._callbacks)} callback(s)>"
