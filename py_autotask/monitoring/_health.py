"""Health checks: is the API reachable and accepting the credentials, which zone, how much of the
hourly budget is left, what is in flight, are breakers open, do the cache and the limiter backend
answer. :class:`HealthMonitor` runs them; each gives a :class:`Check` (status, latency, detail);
the overall status is the worst.

One monitor serves both clients::

    monitor = HealthMonitor(client)
    status = await monitor.check_all()   # AsyncAutotaskClient, or a sync client from async code
    status = monitor.check()             # sync code with an AutotaskClient

``await check_all()`` with a sync :class:`~py_autotask.AutotaskClient` runs the checks in a worker
thread, so the event loop is never blocked by them.

The checks build on ``client.health()`` (one ThresholdInformation request, in-flight counts,
breaker states, a limiter-backend round trip); the zone check adds one unauthenticated
``zoneInformation`` lookup when zone discovery is on, the cache check one round trip to the cache
backend when caching is on, and the opt-in webhook check one query per webhook entity. Nothing in
a check result carries a secret.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from .._observe import Observer, RequestInfo
from ..exceptions import scrub_secrets

if TYPE_CHECKING:
    from .._config import Credentials
    from ..resilience import Health
    from ._alerts import AlertManager

__all__ = ["Check", "HealthMonitor", "HealthStatus", "Status"]

Status = Literal["ok", "degraded", "unhealthy"]

_RANK: Final[dict[str, int]] = {"ok": 0, "degraded": 1, "unhealthy": 2}


def worst(statuses: list[Status]) -> Status:
    """The worst of ``statuses`` (``ok`` for none)."""
    return max(statuses, key=_RANK.__getitem__, default="ok")


@dataclass(frozen=True)
class Check:
    """One check: ``name`` (``api``, ``zone``, ``budget``, ``in_flight``, ``breakers``, ``cache``,
    ``limiter``, ``webhooks``), ``status``, ``latency`` in seconds (``None`` when it sent nothing
    of its own), a one-line ``detail`` and the figures behind it in ``data``."""

    name: str
    status: Status
    latency: float | None
    detail: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "latency": self.latency,
            "detail": self.detail,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class HealthStatus:
    """The result of one run: every :class:`Check` and the overall ``status`` (the worst)."""

    status: Status
    checks: tuple[Check, ...]
    checked_at: str  # ISO 8601, UTC
    api_url: str | None

    def check(self, name: str) -> Check | None:
        """The check called ``name``, if it ran."""
        return next((c for c in self.checks if c.name == name), None)

    def _status_of(self, name: str) -> Status | None:
        found = self.check(name)
        return found.status if found is not None else None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def api_status(self) -> Status | None:
        """Status of the ``api`` check (reachable and authenticated)."""
        return self._status_of("api")

    @property
    def zone_health(self) -> Status | None:
        """Status of the ``zone`` check."""
        return self._status_of("zone")

    def _budget(self, key: str) -> int | None:
        found = self.check("budget")
        value = found.data.get(key) if found is not None else None
        return value if isinstance(value, int) else None

    @property
    def rate_limit_remaining(self) -> int | None:
        """Requests left in the tenant's hourly budget (``None`` when unknown)."""
        return self._budget("remaining")

    @property
    def rate_limit_used(self) -> int | None:
        return self._budget("used")

    @property
    def rate_limit(self) -> int | None:
        return self._budget("limit")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``status``, ``checked_at``, ``api_url`` and ``checks`` (a list)."""
        return {
            "status": self.status,
            "checked_at": self.checked_at,
            "api_url": self.api_url,
            "checks": [c.to_dict() for c in self.checks],
        }


class _CacheControl(Protocol):
    @property
    def enabled(self) -> bool: ...

    def ping(self) -> float: ...


class _Client(Protocol):
    """What the monitor needs of a client (sync or async: the methods that do I/O may be
    coroutine functions)."""

    @property
    def api_url(self) -> str | None: ...

    @property
    def credentials(self) -> Credentials: ...

    @property
    def zone_discovery(self) -> bool: ...

    @property
    def cache(self) -> _CacheControl: ...

    def health(self) -> Any: ...

    def lookup_zone(self) -> Any: ...


@dataclass
class _Facts:
    """What the I/O part of a run gathered; :func:`_evaluate` turns it into checks."""

    health: Health
    api_latency: float
    url_before: str | None
    url_after: str | None
    discovery: bool
    zone_answer: str | None = None
    zone_error: str | None = None
    zone_latency: float | None = None
    cache: tuple[float | None, str | None] | None = None  # (latency, error); None: caching off
    cache_backend: str | None = None
    webhooks: tuple[list[dict[str, Any]], float] | str | None = None  # rows + latency, or error
    secrets: tuple[str, ...] = ()


class HealthMonitor:
    """Health checks of one client (see the module docstring).

    ``budget_degraded_at``: the fraction of the hourly budget used above which the budget check
    is degraded (unhealthy when it is used up). ``zone_lookup``: look the zone up fresh to see
    whether the tenant moved (one unauthenticated request; skipped when an ``api_url`` was
    given). ``webhooks``: also list deactivated webhooks (one query per webhook entity; degraded
    when any). ``alerts``: an :class:`~py_autotask.monitoring.AlertManager` fed each result.
    """

    def __init__(
        self,
        client: Any,
        *,
        budget_degraded_at: float = 0.8,
        zone_lookup: bool = True,
        webhooks: bool = False,
        alerts: AlertManager | None = None,
    ) -> None:
        if not 0 < budget_degraded_at <= 1:
            raise ValueError(f"budget_degraded_at must be in (0, 1], not {budget_degraded_at!r}")
        self.client: _Client = client
        self.budget_degraded_at = budget_degraded_at
        self.zone_lookup = zone_lookup
        self.webhooks = webhooks
        self.alerts = alerts
        self.is_async = inspect.iscoroutinefunction(getattr(client, "health", None))

    # --- running ---------------------------------------------------------------------------------

    def check(self) -> HealthStatus:
        """Run every check now (sync client; from async code use ``await check_all()``)."""
        if self.is_async:
            raise TypeError(
                "HealthMonitor.check() needs a sync AutotaskClient; with an AsyncAutotaskClient "
                "use `await monitor.check_all()`"
            )
        return self._finish(self._gather_sync())

    async def check_all(self) -> HealthStatus:
        """Run every check now. Works with both clients: a sync client's checks run in a worker
        thread, an async client's on this loop."""
        if self.is_async:
            facts = await self._gather_async()
        else:
            facts = await asyncio.to_thread(self._gather_sync)
        return self._finish(facts)

    def _finish(self, facts: _Facts) -> HealthStatus:
        status = _evaluate(facts, self.budget_degraded_at)
        if self.alerts is not None:
            self.alerts.from_health(status)
        return status

    # --- gathering (the only I/O) ------------------------------------------------------------------

    def _watch(self) -> _ZoneWatch:
        watch = _ZoneWatch(self.client.api_url)
        observers = getattr(self.client, "observers", None)
        if observers is not None:
            observers.add(watch)
        return watch

    def _unwatch(self, watch: _ZoneWatch) -> None:
        observers = getattr(self.client, "observers", None)
        if observers is not None:
            observers.remove(watch)

    def _facts(self, watch: _ZoneWatch, health: Health, started: float) -> _Facts:
        client = self.client
        self._unwatch(watch)
        discovery = bool(getattr(client, "zone_discovery", False))
        elapsed = time.perf_counter() - started
        return _Facts(health, elapsed, watch.before, client.api_url, discovery)

    def _gather_sync(self) -> _Facts:
        client = self.client
        watch = self._watch()
        started = time.perf_counter()
        try:
            health = client.health()
        except BaseException:
            self._unwatch(watch)
            raise
        facts = self._facts(watch, health, started)
        discovery = facts.discovery
        facts.secrets = client.credentials.secret_values()
        if discovery and self.zone_lookup:
            started = time.perf_counter()
            try:
                facts.zone_answer = client.lookup_zone()
            except Exception as exc:  # reported, never raised
                facts.zone_error = _error_text(exc, facts.secrets)
            facts.zone_latency = time.perf_counter() - started
        self._cache_round_trip(facts)
        if self.webhooks:
            from ..webhooks import WebhookRegistry

            started = time.perf_counter()
            try:
                gone = WebhookRegistry(client).deactivated()  # type: ignore[arg-type]
                rows = [d.webhook.as_row() for d in gone]
                facts.webhooks = (rows, time.perf_counter() - started)
            except Exception as exc:
                facts.webhooks = _error_text(exc, facts.secrets)
        return facts

    async def _gather_async(self) -> _Facts:
        client = self.client
        watch = self._watch()
        started = time.perf_counter()
        try:
            health = await _awaited(client.health)
        except BaseException:
            self._unwatch(watch)
            raise
        facts = self._facts(watch, health, started)
        discovery = facts.discovery
        facts.secrets = client.credentials.secret_values()
        if discovery and self.zone_lookup:
            started = time.perf_counter()
            try:
                facts.zone_answer = await _awaited(client.lookup_zone)
            except Exception as exc:
                facts.zone_error = _error_text(exc, facts.secrets)
            facts.zone_latency = time.perf_counter() - started
        # the cache backends are blocking (memory, diskcache, redis-py): off the loop
        await asyncio.to_thread(self._cache_round_trip, facts)
        if self.webhooks:
            from ..webhooks import AsyncWebhookRegistry

            started = time.perf_counter()
            try:
                gone = await AsyncWebhookRegistry(client).deactivated()  # type: ignore[arg-type]
                rows = [d.webhook.as_row() for d in gone]
                facts.webhooks = (rows, time.perf_counter() - started)
            except Exception as exc:
                facts.webhooks = _error_text(exc, facts.secrets)
        return facts

    def _cache_round_trip(self, facts: _Facts) -> None:
        cache = self.client.cache
        if not cache.enabled:
            return
        facts.cache_backend = str(getattr(getattr(cache, "config", None), "backend", "?"))
        started = time.perf_counter()
        try:
            facts.cache = (cache.ping(), None)
        except Exception as exc:
            facts.cache = (time.perf_counter() - started, _error_text(exc, facts.secrets))

    def __repr__(self) -> str:
        kind = "async" if self.is_async else "sync"
        return f"<HealthMonitor {kind} client, budget degraded at {self.budget_degraded_at:.0%}>"


class _ZoneWatch(Observer):
    """Notes the zone the health request went to first: a client that had not resolved its zone
    yet starts from the zone cache, and follows a moved tenant within that same request."""

    def __init__(self, before: str | None) -> None:
        self.before = before

    def request_started(self, info: RequestInfo) -> None:
        if self.before is None and info.operation == "threshold":
            self.before = info.url.rsplit("ThresholdInformation", 1)[0]


async def _awaited(call: Callable[[], Awaitable[Any] | Any]) -> Any:
    result = call()
    return await result if inspect.isawaitable(result) else result


def _error_text(exc: BaseException, secrets: tuple[str, ...]) -> str:
    return scrub_secrets(f"{type(exc).__name__}: {exc}", secrets)


# --- evaluation (no I/O) ------------------------------------------------------------------------


def _evaluate(facts: _Facts, degraded_at: float) -> HealthStatus:
    health = facts.health
    checks = [
        _api(facts),
        _zone(facts),
        _budget(health, degraded_at),
        _in_flight(health),
        _breakers(health),
        _cache(facts),
        _limiter(health),
    ]
    if facts.webhooks is not None:
        checks.append(_webhooks(facts.webhooks))
    checked_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return HealthStatus(
        worst([c.status for c in checks]), tuple(checks), checked_at, facts.url_after
    )


def _api(facts: _Facts) -> Check:
    health = facts.health
    error = scrub_secrets(health.error, facts.secrets) if health.error else None
    latency = facts.api_latency
    data: dict[str, Any] = {"reachable": health.reachable, "url": health.api_url}
    if health.threshold is None and error is None and health.budget_exhausted_for > 0:
        return Check(
            "api",
            "degraded",
            None,
            "not checked: the hourly budget is used up, no request was sent",
            data,
        )
    if error is not None and health.reachable and health.budget_exhausted_for > 0:
        return Check(
            "api",
            "degraded",
            latency,
            f"reachable, but refusing requests until the hourly budget drains: {error}",
            {**data, "error": error},
        )
    if error is not None:
        what = "authentication failed" if "HTTP 401" in error else "failed"
        if not health.reachable:
            what = "unreachable"
        return Check("api", "unhealthy", latency, f"{what}: {error}", {**data, "error": error})
    return Check("api", "ok", latency, f"reachable and authenticated ({health.api_url})", data)


def _zone(facts: _Facts) -> Check:
    current = facts.url_after
    data: dict[str, Any] = {
        "api_url": current,
        "discovery": facts.discovery,
        "moved": False,
        "previous": None,
    }
    if not facts.discovery:
        return Check(
            "zone",
            "ok" if current else "unhealthy",
            None,
            f"api_url set explicitly (no zone discovery): {current}",
            data,
        )
    if current is None:
        return Check("zone", "unhealthy", facts.zone_latency, "zone not found", data)
    moved_from = facts.url_before if facts.url_before not in (None, current) else None
    if moved_from is not None:
        data.update(moved=True, previous=moved_from)
        return Check(
            "zone",
            "degraded",
            facts.zone_latency,
            f"the tenant moved zone: {moved_from} -> {current} (the client follows it)",
            data,
        )
    answer = facts.zone_answer
    if answer is not None and answer.rstrip("/").lower() != current.rstrip("/").lower():
        data.update(moved=True, previous=current, api_url=answer)
        return Check(
            "zone",
            "degraded",
            facts.zone_latency,
            f"the tenant moved zone: {current} -> {answer} (followed on the next request)",
            data,
        )
    if facts.zone_error is not None:
        data["error"] = facts.zone_error
        return Check(
            "zone",
            "degraded",
            facts.zone_latency,
            f"{current}; the zone lookup failed: {facts.zone_error}",
            data,
        )
    looked = "" if answer is None else ", confirmed by zoneInformation"
    return Check("zone", "ok", facts.zone_latency, f"{current}{looked}", data)


def _budget(health: Health, degraded_at: float) -> Check:
    snap = health.threshold
    exhausted_for = health.budget_exhausted_for
    if snap is None:
        if exhausted_for > 0:
            return Check(
                "budget",
                "unhealthy",
                None,
                f"hourly budget used up; the window needs about {exhausted_for:.0f}s to drain",
                {
                    "remaining": 0,
                    "exhausted_for": round(exhausted_for, 1),
                    "degraded_at": degraded_at,
                },
            )
        return Check(
            "budget",
            "degraded",
            None,
            "hourly budget unknown: ThresholdInformation was not read",
            {"degraded_at": degraded_at},
        )
    limit = int(snap["externalRequestThreshold"])
    used = int(snap["currentTimeframeRequestCount"])
    remaining = max(0, limit - used)
    fraction = used / limit if limit > 0 else 0.0
    data = {
        "used": used,
        "remaining": remaining,
        "limit": limit,
        "fraction": round(fraction, 4),
        "timeframe_minutes": snap.get("requestThresholdTimeframe"),
        "degraded_at": degraded_at,
    }
    text = f"{used} of {limit} requests used this hour ({fraction:.0%}), {remaining} left"
    if limit > 0 and (remaining <= 0 or exhausted_for > 0):
        return Check("budget", "unhealthy", None, f"used up: {text}", data)
    if limit > 0 and fraction >= degraded_at:
        return Check("budget", "degraded", None, f"{text}; above {degraded_at:.0%}", data)
    return Check("budget", "ok", None, text, data)


def _in_flight(health: Health) -> Check:
    limit = int(health.pacing.get("max_in_flight_per_endpoint") or 0)
    busy = {ep: n for ep, n in health.in_flight.items() if n}
    data = {"endpoints": dict(health.in_flight), "limit": limit}
    full = sorted(ep for ep, n in busy.items() if limit and n >= limit)
    if full:
        return Check(
            "in_flight",
            "degraded",
            None,
            f"at the limit of {limit} in flight (new requests queue): {', '.join(full)}",
            data,
        )
    shown = ", ".join(f"{ep}={n}" for ep, n in sorted(busy.items())) or "none"
    return Check("in_flight", "ok", None, f"in flight: {shown} (limit {limit})", data)


def _breakers(health: Health) -> Check:
    states = {ep: s for ep, s in health.breakers.items() if ep != "*"}
    opened = sorted(ep for ep, s in states.items() if s == "open")
    probing = sorted(ep for ep, s in states.items() if s == "half_open")
    data = {"states": states}
    if opened:
        return Check(
            "breakers",
            "unhealthy",
            None,
            f"open (calls fail without being sent): {', '.join(opened)}",
            data,
        )
    if probing:
        return Check("breakers", "degraded", None, f"half-open: {', '.join(probing)}", data)
    return Check("breakers", "ok", None, f"{len(states)} endpoint(s), all closed", data)


def _cache(facts: _Facts) -> Check:
    if facts.cache is None:
        return Check("cache", "ok", None, "caching is off", {"backend": None})
    latency, error = facts.cache
    data = {"backend": facts.cache_backend}
    if error is not None:
        return Check(
            "cache",
            "degraded",
            latency,
            f"{facts.cache_backend} cache failed a round trip (requests go uncached): {error}",
            {**data, "error": error},
        )
    return Check("cache", "ok", latency, f"{facts.cache_backend} cache answered", data)


def _limiter(health: Health) -> Check:
    report = health.extra.get("limiter")
    if not isinstance(report, Mapping):
        return Check("limiter", "ok", None, "no limiter backend report", {})
    data = dict(report)
    backend, where = report.get("backend"), report.get("where")
    if report.get("ok") is False:
        return Check(
            "limiter",
            "unhealthy",
            report.get("latency"),
            f"{backend} limiter backend ({where}) failed a round trip: {report.get('error')}",
            data,
        )
    if report.get("ok") is None:
        return Check("limiter", "ok", None, f"{backend} limiter: pacing is off", data)
    return Check("limiter", "ok", report.get("latency"), f"{backend} limiter ({where})", data)


def _webhooks(found: tuple[list[dict[str, Any]], float] | str) -> Check:
    if isinstance(found, str):
        return Check("webhooks", "degraded", None, f"could not list webhooks: {found}", {})
    rows, latency = found
    data = {
        "deactivated": [{"entity": r["entity"], "id": r["id"], "name": r["name"]} for r in rows]
    }
    if rows:
        names = ", ".join(f"{r['entity']} {r['id']} ({r['name']})" for r in rows)
        return Check("webhooks", "degraded", latency, f"deactivated: {names}", data)
    return Check("webhooks", "ok", latency, "no deactivated webhook", data)
