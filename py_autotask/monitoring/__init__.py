"""Monitoring: the observer seam (:class:`Observer`), health checks, Prometheus metrics,
OpenTelemetry traces and alerts. See docs/monitoring.md."""

from __future__ import annotations

from .._observe import JobInfo, Observer, Observers, RequestInfo, RequestOutcome, current_job
from ._alerts import ALERT_TOPIC, Alert, AlertManager, AlertRules
from ._health import Check, HealthMonitor, HealthStatus
from ._logs import JsonFormatter, configure_logging
from ._metrics import MetricsCollector, MetricsServer
from ._tracing import TracingObserver

__all__ = [
    "ALERT_TOPIC",
    "Alert",
    "AlertManager",
    "AlertRules",
    "Check",
    "HealthMonitor",
    "HealthStatus",
    "JobInfo",
    "JsonFormatter",
    "MetricsCollector",
    "MetricsServer",
    "Observer",
    "Observers",
    "RequestInfo",
    "RequestOutcome",
    "TracingObserver",
    "configure_logging",
    "current_job",
]
