"""OpenTelemetry traces: a span per HTTP attempt, a parent span per job.

:class:`TracingObserver` sits on the observer seam (:mod:`py_autotask._observe`). Every client
gets one by default (``AutotaskClient(tracing=True)``): the library uses the OpenTelemetry *API*
only, so nothing is recorded until the application installs an SDK ``TracerProvider``.

Spans:

- one per HTTP attempt (retries, rate-limit rejections and the pacing's ThresholdInformation polls
  included), kind ``CLIENT``, named ``{method}`` as the stable HTTP client semantic conventions
  say, with ``http.request.method``, ``url.full`` (no query string), ``server.address``,
  ``server.port``, ``http.response.status_code``, ``error.type`` (the status for >= 400, else the
  exception type), ``http.request.resend_count`` (> 0 only) and the low-cardinality
  ``autotask.entity`` / ``autotask.operation``. A failed attempt has status ERROR; one that will be
  retried carries a ``retry`` event (``autotask.retry.delay`` seconds, ``autotask.retry.kind``).
- one per job scope (``query_all``, export, sync, bulk, or ``client.observers.job(...)``), kind
  ``INTERNAL``, named ``autotask.<kind>``; it is made the current span while the job runs, so the
  request spans sent in it (in its thread or task, or a thread that copied its context) are its
  children. A job that raised gets an ``exception`` event and status ERROR.

Spans carry facts only: no secret, header value or record content. An exception is recorded by
its type alone, because Autotask's error text may quote record values.

Cost without an SDK: until some code imports ``opentelemetry.trace`` (an application that
configures tracing always does), every hook returns after one dictionary lookup; afterwards the
API's proxy tracer hands out non-recording spans until a provider is set.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .._observe import JobInfo, Observer, RequestInfo, RequestOutcome
from .._version import __version__
from ..exceptions import AutotaskConfigError

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["TracingObserver"]

#: the instrumentation scope name spans are reported under
TRACER_NAME = "py_autotask"

_API_MODULE = "opentelemetry.trace"


def _qualified_name(error: BaseException) -> str:
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


class TracingObserver(Observer):
    """Reports HTTP attempts and jobs as OpenTelemetry spans.

    ``tracer_provider``: the provider to get the tracer from; ``None`` (the default) uses the
    global one (``opentelemetry.trace.set_tracer_provider``), looked up when tracing starts so a
    provider installed after the client was built is used."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        if tracer_provider is not None and not callable(
            getattr(tracer_provider, "get_tracer", None)
        ):
            raise AutotaskConfigError(
                "tracing must be True, False or an OpenTelemetry TracerProvider, "
                f"not {type(tracer_provider).__name__}"
            )
        self._provider = tracer_provider
        self._tracer: Tracer | None = None
        if tracer_provider is not None:
            self._load_api()
            self._tracer = tracer_provider.get_tracer(TRACER_NAME, __version__)

    def _load_api(self) -> None:
        from opentelemetry import context, trace

        self._context = context
        self._trace = trace
        self._client_kind = trace.SpanKind.CLIENT
        self._internal_kind = trace.SpanKind.INTERNAL
        self._error = trace.StatusCode.ERROR

    def _bind(self) -> Tracer | None:
        """The global proxy tracer, once the OpenTelemetry API is loaded (nobody can have
        configured a provider before that, so the hooks stay no-ops without importing it)."""
        if _API_MODULE not in sys.modules:
            return None
        self._load_api()
        self._tracer = self._trace.get_tracer(TRACER_NAME, __version__)
        return self._tracer

    # --- requests -----------------------------------------------------------------------------

    def request_started(self, info: RequestInfo) -> Span | None:
        tracer = self._tracer or self._bind()
        if tracer is None:
            return None
        attributes: dict[str, str | int] = {
            "http.request.method": info.method,
            "url.full": info.url,
            "server.address": info.host,
        }
        if info.port is not None:
            attributes["server.port"] = info.port
        if info.resend_count > 0:
            attributes["http.request.resend_count"] = info.resend_count
        if info.entity is not None:
            attributes["autotask.entity"] = info.entity
        if info.operation is not None:
            attributes["autotask.operation"] = info.operation
        return tracer.start_span(info.method, kind=self._client_kind, attributes=attributes)

    def request_ended(self, info: RequestInfo, token: Any, outcome: RequestOutcome) -> None:
        span: Span | None = token
        if span is None:
            return
        if span.is_recording():
            status = outcome.status
            error_type: str | None = None
            if status is not None:
                span.set_attribute("http.response.status_code", status)
                if status >= 400:
                    error_type = str(status)
            if error_type is None and (outcome.error_type or outcome.kind == "error"):
                error_type = outcome.error_type or "_OTHER"
            if outcome.retry_delay is not None:
                span.add_event(
                    "retry",
                    {
                        "autotask.retry.delay": outcome.retry_delay,
                        "autotask.retry.kind": outcome.kind,
                    },
                )
            if error_type is not None:
                span.set_attribute("error.type", error_type)
                span.set_status(self._error)
        span.end()

    # --- jobs ---------------------------------------------------------------------------------

    def job_started(self, job: JobInfo) -> tuple[Span, Token[Context] | None] | None:
        tracer = self._tracer or self._bind()
        if tracer is None:
            return None
        attributes: dict[str, str | int | float | bool] = {"autotask.job.kind": job.kind}
        if job.entity is not None:
            attributes["autotask.entity"] = job.entity
        for key, value in job.attributes.items():
            attributes[f"autotask.job.{key}"] = value
        span = tracer.start_span(
            f"autotask.{job.kind}", kind=self._internal_kind, attributes=attributes
        )
        if not span.get_span_context().is_valid:  # the no-op tracer: nothing to parent
            return span, None
        return span, self._context.attach(self._trace.set_span_in_context(span))

    def job_ended(self, job: JobInfo, token: Any, error: BaseException | None) -> None:
        if token is None:
            return
        span: Span = token[0]
        attached: Token[Context] | None = token[1]
        if error is not None and not isinstance(error, GeneratorExit) and span.is_recording():
            name = _qualified_name(error)
            span.add_event("exception", {"exception.type": name})
            span.set_attribute("error.type", name)
            span.set_status(self._error, type(error).__name__)
        span.end()
        # Detach only where the span was made current: a scope that ends in another context
        # (a generator finished elsewhere) leaves that context alone, instead of the API's
        # "Failed to detach context" error.
        if attached is not None and self._trace.get_current_span() is span:
            self._context.detach(attached)

    def __repr__(self) -> str:
        where = "global provider" if self._provider is None else type(self._provider).__name__
        return f"TracingObserver({where})"
