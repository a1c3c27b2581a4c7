"""Monitoring: the observer seam (:class:`Observer`), health checks, Prometheus metrics,
OpenTelemetry traces and alerts. See docs/monitoring.md."""

from __future__ import annotations

from .._observe import JobInfo, Observer, Observers, RequestInfo, RequestOutcome, current_job
from ._tracing import TracingObserver

__all__ = [
    "JobInfo",
    "Observer",
    "Observers",
    "RequestInfo",
    "RequestOutcome",
    "TracingObserver",
    "current_job",
]
