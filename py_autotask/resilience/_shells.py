"""The two thin shells of the pipeline: they pace, send, sleep and let tenacity drive retries.

Every decision is the :class:`~._engine.Engine`'s; the sync and async classes differ only in how
they wait. The first attempt runs outside tenacity (no per-request overhead on success); a failure
that may be retried is handed to a ``tenacity.Retrying`` loop that sleeps the engine's delay and
calls the next attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from .._core import ApiRequest, ApiResponse, PreparedRequest
from ..exceptions import AutotaskConfigError, AutotaskConnectionError
from ._backends import AsyncPacingBackend, PacingBackend, make_async_backend, make_sync_backend
from ._engine import CallState, Engine, Failed, Health
from ._policy import (
    Kind,
    ThresholdSnapshot,
    classify_response,
    endpoint_of,
    window_seconds,
)

__all__ = ["AsyncPipeline", "SyncPipeline", "build_health"]

logger = logging.getLogger("py_autotask.resilience")

THRESHOLD_REQUEST = ApiRequest(
    "GET", "ThresholdInformation", entity="ThresholdInformation", operation="threshold"
)
_MAX_TOKEN_SLEEP = 2.0


def _tenacity() -> Any:
    try:
        import tenacity
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise AutotaskConfigError(
            "retries need tenacity: pip install 'py-autotask[resilience]' "
            "(or pass retry_config=RetryConfig(max_retries=0))"
        ) from exc
    return tenacity


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, Failed) and exc.delay is not None


def _wait(retry_state: Any) -> float:
    exc = retry_state.outcome.exception()
    return float(exc.delay) if isinstance(exc, Failed) and exc.delay else 0.0


def _request_facts(prepared: PreparedRequest) -> tuple[str | None, str | None]:
    source = prepared.source
    entity = source.entity if source else None
    operation = source.operation if source else None
    return entity, operation


def _slot_wait(seconds: float) -> float:
    """A slot wait worth counting (a free slot takes microseconds)."""
    return seconds if seconds >= 0.01 else 0.0


def _pacing_wait(engine: Engine, waited: float, wait: float, noticed: bool) -> bool:
    """Before a token-bucket sleep of ``wait`` after ``waited`` seconds of this run: announce the
    run once it is long; returns whether it has been announced."""
    logger.debug("pacing: waiting %.2fs for the request budget", wait)
    if not noticed and engine.notices.due(waited, wait):
        engine.notice("pacing", wait, None, engine.pacing_detail())
        return True
    return noticed


def _snapshot(response: ApiResponse) -> ThresholdSnapshot | None:
    try:
        return ThresholdSnapshot.from_body(json.loads(response.content), time.time())
    except ValueError:
        return None


class SyncPipeline:
    """Sync shell: ``send(prepared)`` paces, transmits (through ``transmit``) and retries."""

    def __init__(self, engine: Engine, transmit: Callable[[PreparedRequest], ApiResponse]) -> None:
        self.engine = engine
        self._transmit = transmit
        pacing = engine.pacing
        self.backend: PacingBackend | None = (
            make_sync_backend(engine.backend_url) if pacing.enabled else None
        )

    def close(self) -> None:
        self.engine.notices.close()
        if self.backend is not None:
            self.backend.close()

    def health(self, ensure_url: Callable[[], None], api_url: Callable[[], str | None]) -> Health:
        engine = self.engine
        response: ApiResponse | None = None
        error: str | None = None
        try:
            ensure_url()
            if engine.exhausted_remaining() <= 0:  # no request while the budget is exhausted
                response = self.poll_threshold(force=True)
                if response is None:
                    error = engine.last_poll_error
        except Exception as exc:  # report, never raise
            error = f"{type(exc).__name__}: {exc}"
        engine, backend = self.engine, self.backend
        in_flight: dict[str, int] = {}
        limiter = _limiter_report(engine)
        if backend is not None:
            key, token = _probe_key()
            started = time.perf_counter()
            try:
                backend.set(key, token, _PROBE_TTL)
                _probe_result(limiter, token, backend.get(key), started)
                for ep in sorted(engine.endpoints):
                    in_flight[ep] = backend.in_flight(engine.slot_key(ep))
            except Exception as exc:  # report, never raise
                _probe_result(limiter, token, exc, started)
        return build_health(engine, api_url(), response, error, in_flight, limiter)

    # --- the send path ----------------------------------------------------------------------------

    def send(self, prepared: PreparedRequest) -> ApiResponse:
        transmit = self._transmit
        entity, operation = _request_facts(prepared)
        endpoint = endpoint_of(entity, operation, prepared.url)
        call = self.engine.start_call(operation)
        try:
            return self._attempt(prepared, endpoint, operation, call, transmit)
        except Failed as failure:
            if failure.delay is None:
                return failure.give_up()
            pending: list[Failed] = [failure]

        def run() -> ApiResponse:
            if pending:  # replay the first failure so tenacity waits its delay
                raise pending.pop()
            return self._attempt(prepared, endpoint, operation, call, transmit)

        tenacity = _tenacity()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_retryable),
            wait=_wait,
            stop=tenacity.stop_never,
            sleep=time.sleep,
            reraise=True,
        )
        try:
            result: ApiResponse = retrying(run)
        except Failed as failure:
            return failure.give_up()
        return result

    def _attempt(
        self,
        prepared: PreparedRequest,
        endpoint: str | None,
        operation: str | None,
        call: CallState,
        transmit: Callable[[PreparedRequest], ApiResponse],
    ) -> ApiResponse:
        engine = self.engine
        engine.check_breaker(endpoint)
        slot = self._pace(endpoint, call)
        response: ApiResponse | None = None
        error: AutotaskConnectionError | None = None
        observed = engine.observe_start(prepared, operation, endpoint, call)
        started = time.monotonic()
        engine.count_sent()
        try:
            response = transmit(prepared)
        except AutotaskConnectionError as exc:
            error = exc
        finally:
            if slot is not None and self.backend is not None:
                self.backend.release(*slot)
        elapsed = time.monotonic() - started
        if observed is None:
            return engine.conclude(prepared, operation, endpoint, call, response, error, elapsed)
        try:
            result = engine.conclude(prepared, operation, endpoint, call, response, error, elapsed)
        except BaseException as raised:
            engine.observe_end(observed, response, error, elapsed, raised)
            raise
        engine.observe_end(observed, response, error, elapsed, None)
        return result

    # --- pacing -----------------------------------------------------------------------------------

    def _pace(self, endpoint: str | None, call: CallState | None) -> tuple[str, str] | None:
        engine, backend = self.engine, self.backend
        if endpoint is None or backend is None:
            return None
        if call is not None:
            if engine.shared_check_due():
                engine.adopt_shared(backend.get(engine.snapshot_key))
            self._budget_gate(call)
            if engine.poll_due():
                self.poll_threshold()
                self._budget_gate(call)
        engine.note_sent()
        self._take_token()
        key = engine.slot_key(endpoint)
        pacing = engine.pacing
        watch = engine.notices.watch("slot", endpoint)
        try:
            token = backend.acquire(key, pacing.max_in_flight_per_endpoint, pacing.slot_lease)
        finally:
            engine.count_waited("slot", _slot_wait(engine.notices.unwatch(watch)))
        return key, token

    def _take_token(self) -> None:
        engine, backend = self.engine, self.backend
        assert backend is not None
        waited, noticed = 0.0, False
        while True:
            rate, capacity, _mult = engine.rate()
            wait = backend.take_token(engine.bucket_key, rate, capacity)
            if wait <= 0:
                engine.count_waited("pacing", waited)
                return
            noticed = _pacing_wait(engine, waited, wait, noticed)
            time.sleep(min(wait, _MAX_TOKEN_SLEEP))
            waited += min(wait, _MAX_TOKEN_SLEEP)

    def _budget_gate(self, call: CallState) -> None:
        engine = self.engine
        remaining = engine.exhausted_remaining()
        while remaining > 0:
            engine.begin_budget_wait(call, remaining)
            time.sleep(remaining)
            engine.end_budget_wait(call, remaining)
            self.poll_threshold(force=True)
            remaining = engine.exhausted_remaining()

    def poll_threshold(self, *, force: bool = False) -> ApiResponse | None:
        """Read ThresholdInformation (one counted request) and feed it to the engine."""
        engine, backend = self.engine, self.backend
        if not engine.begin_poll():
            return None
        try:
            if (
                backend is not None
                and engine.shared
                and not force
                and not backend.try_lock(engine.poll_lock_key, 5.0)
            ):
                engine.polled_elsewhere()
                return None
            prepared = engine.core.prepare(THRESHOLD_REQUEST)
            slot = self._pace("thresholdinformation", None)
            observed = engine.observe_start(prepared, "threshold", "thresholdinformation", None)
            started = time.monotonic()
            engine.count_sent(poll=True)
            try:
                response = self._transmit(prepared)
            except AutotaskConnectionError as exc:
                logger.debug("threshold poll failed: %s", type(exc).__name__)
                engine.last_poll_error = str(exc)
                engine.observe_end(observed, None, exc, time.monotonic() - started, exc)
                return None
            finally:
                if slot is not None and backend is not None:
                    backend.release(*slot)
            elapsed = time.monotonic() - started
            try:
                self._apply_poll(response)
            finally:  # observers see the poll once the client knows its answer
                engine.observe_end(observed, response, None, elapsed, None)
            return response
        finally:
            engine.end_poll()

    def _apply_poll(self, response: ApiResponse) -> None:
        engine, backend = self.engine, self.backend
        verdict = classify_response("GET", "threshold", response.status_code, response.content)
        if verdict.kind is Kind.OK:
            snap = _snapshot(response)
            if snap is not None:
                engine.record_snapshot(snap)
                if backend is not None and engine.shared:
                    backend.set(
                        engine.snapshot_key,
                        snap.to_json(),
                        window_seconds(snap, engine.pacing),
                    )
        elif verdict.kind is Kind.BUDGET:
            engine.mark_exhausted()


class AsyncPipeline:
    """Async twin of :class:`SyncPipeline`."""

    def __init__(
        self, engine: Engine, transmit: Callable[[PreparedRequest], Awaitable[ApiResponse]]
    ) -> None:
        self.engine = engine
        self._transmit = transmit
        pacing = engine.pacing
        self.backend: AsyncPacingBackend | None = (
            make_async_backend(engine.backend_url) if pacing.enabled else None
        )

    async def close(self) -> None:
        self.engine.notices.close()
        if self.backend is not None:
            await self.backend.close()

    async def health(
        self, ensure_url: Callable[[], Awaitable[None]], api_url: Callable[[], str | None]
    ) -> Health:
        engine = self.engine
        response: ApiResponse | None = None
        error: str | None = None
        try:
            await ensure_url()
            if engine.exhausted_remaining() <= 0:  # no request while the budget is exhausted
                response = await self.poll_threshold(force=True)
                if response is None:
                    error = engine.last_poll_error
        except Exception as exc:  # report, never raise
            error = f"{type(exc).__name__}: {exc}"
        engine, backend = self.engine, self.backend
        in_flight: dict[str, int] = {}
        limiter = _limiter_report(engine)
        if backend is not None:
            key, token = _probe_key()
            started = time.perf_counter()
            try:
                await backend.set(key, token, _PROBE_TTL)
                _probe_result(limiter, token, await backend.get(key), started)
                for ep in sorted(engine.endpoints):
                    in_flight[ep] = await backend.in_flight(engine.slot_key(ep))
            except Exception as exc:  # report, never raise
                _probe_result(limiter, token, exc, started)
        return build_health(engine, api_url(), response, error, in_flight, limiter)

    async def send(self, prepared: PreparedRequest) -> ApiResponse:
        transmit = self._transmit
        entity, operation = _request_facts(prepared)
        endpoint = endpoint_of(entity, operation, prepared.url)
        call = self.engine.start_call(operation)
        try:
            return await self._attempt(prepared, endpoint, operation, call, transmit)
        except Failed as failure:
            if failure.delay is None:
                return failure.give_up()
            pending: list[Failed] = [failure]

        async def run() -> ApiResponse:
            if pending:
                raise pending.pop()
            return await self._attempt(prepared, endpoint, operation, call, transmit)

        tenacity = _tenacity()
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(_retryable),
            wait=_wait,
            stop=tenacity.stop_never,
            sleep=asyncio.sleep,
            reraise=True,
        )
        try:
            result: ApiResponse = await retrying(run)
        except Failed as failure:
            return failure.give_up()
        return result

    async def _attempt(
        self,
        prepared: PreparedRequest,
        endpoint: str | None,
        operation: str | None,
        call: CallState,
        transmit: Callable[[PreparedRequest], Awaitable[ApiResponse]],
    ) -> ApiResponse:
        engine = self.engine
        engine.check_breaker(endpoint)
        slot = await self._pace(endpoint, call)
        response: ApiResponse | None = None
        error: AutotaskConnectionError | None = None
        observed = engine.observe_start(prepared, operation, endpoint, call)
        started = time.monotonic()
        engine.count_sent()
        try:
            response = await transmit(prepared)
        except AutotaskConnectionError as exc:
            error = exc
        finally:
            if slot is not None and self.backend is not None:
                await self.backend.release(*slot)
        elapsed = time.monotonic() - started
        if observed is None:
            return engine.conclude(prepared, operation, endpoint, call, response, error, elapsed)
        try:
            result = engine.conclude(prepared, operation, endpoint, call, response, error, elapsed)
        except BaseException as raised:
            engine.observe_end(observed, response, error, elapsed, raised)
            raise
        engine.observe_end(observed, response, error, elapsed, None)
        return result

    async def _pace(self, endpoint: str | None, call: CallState | None) -> tuple[str, str] | None:
        engine, backend = self.engine, self.backend
        if endpoint is None or backend is None:
            return None
        if call is not None:
            if engine.shared_check_due():
                engine.adopt_shared(await backend.get(engine.snapshot_key))
            await self._budget_gate(call)
            if engine.poll_due():
                await self.poll_threshold()
                await self._budget_gate(call)
        engine.note_sent()
        await self._take_token()
        key = engine.slot_key(endpoint)
        pacing = engine.pacing
        watch = engine.notices.watch("slot", endpoint)
        try:
            token = await backend.acquire(key, pacing.max_in_flight_per_endpoint, pacing.slot_lease)
        finally:
            engine.count_waited("slot", _slot_wait(engine.notices.unwatch(watch)))
        return key, token

    async def _take_token(self) -> None:
        engine, backend = self.engine, self.backend
        assert backend is not None
        waited, noticed = 0.0, False
        while True:
            rate, capacity, _mult = engine.rate()
            wait = await backend.take_token(engine.bucket_key, rate, capacity)
            if wait <= 0:
                engine.count_waited("pacing", waited)
                return
            noticed = _pacing_wait(engine, waited, wait, noticed)
            await asyncio.sleep(min(wait, _MAX_TOKEN_SLEEP))
            waited += min(wait, _MAX_TOKEN_SLEEP)

    async def _budget_gate(self, call: CallState) -> None:
        engine = self.engine
        remaining = engine.exhausted_remaining()
        while remaining > 0:
            engine.begin_budget_wait(call, remaining)
            await asyncio.sleep(remaining)
            engine.end_budget_wait(call, remaining)
            await self.poll_threshold(force=True)
            remaining = engine.exhausted_remaining()

    async def poll_threshold(self, *, force: bool = False) -> ApiResponse | None:
        """Async twin of :meth:`SyncPipeline.poll_threshold`."""
        engine, backend = self.engine, self.backend
        if not engine.begin_poll():
            return None
        try:
            if (
                backend is not None
                and engine.shared
                and not force
                and not await backend.try_lock(engine.poll_lock_key, 5.0)
            ):
                engine.polled_elsewhere()
                return None
            prepared = engine.core.prepare(THRESHOLD_REQUEST)
            slot = await self._pace("thresholdinformation", None)
            observed = engine.observe_start(prepared, "threshold", "thresholdinformation", None)
            started = time.monotonic()
            engine.count_sent(poll=True)
            try:
                response = await self._transmit(prepared)
            except AutotaskConnectionError as exc:
                logger.debug("threshold poll failed: %s", type(exc).__name__)
                engine.last_poll_error = str(exc)
                engine.observe_end(observed, None, exc, time.monotonic() - started, exc)
                return None
            finally:
                if slot is not None and backend is not None:
                    await backend.release(*slot)
            elapsed = time.monotonic() - started
            try:
                verdict = classify_response(
                    "GET", "threshold", response.status_code, response.content
                )
                if verdict.kind is Kind.OK:
                    snap = _snapshot(response)
                    if snap is not None:
                        engine.record_snapshot(snap)
                        if backend is not None and engine.shared:
                            await backend.set(
                                engine.snapshot_key,
                                snap.to_json(),
                                window_seconds(snap, engine.pacing),
                            )
                elif verdict.kind is Kind.BUDGET:
                    engine.mark_exhausted()
            finally:  # observers see the poll once the client knows its answer
                engine.observe_end(observed, response, None, elapsed, None)
            return response
        finally:
            engine.end_poll()


# --- reports (shared by both shells) --------------------------------------------------------------


def build_health(
    engine: Engine,
    api_url: str | None,
    response: ApiResponse | None,
    error: str | None,
    in_flight: dict[str, int],
    limiter: dict[str, Any] | None = None,
) -> Health:
    reachable = response is not None or (error is None and engine.last_status is not None)
    if response is not None and not response.is_success:
        error = str(engine.core.error(response))
    quota = engine.quota.available if engine.quota is not None else None
    return Health(
        reachable=reachable,
        api_url=api_url,
        error=error,
        threshold=engine.threshold_report(),
        usage=engine.usage(),
        budget_exhausted_for=engine.exhausted_remaining(),
        pacing=engine.pacing_report(),
        in_flight=in_flight,
        breakers=engine.breaker_states(),
        retry_budget=quota,
        latency_ewma=engine.latency_ewma,
        extra={"limiter": limiter} if limiter is not None else {},
    )


# --- the limiter backend's round trip (health) ----------------------------------------------------

#: seconds the health probe's key lives in the limiter backend
_PROBE_TTL = 30.0


def _limiter_report(engine: Engine) -> dict[str, Any]:
    """Where the limits live, as a user may see it: ``local``, ``sqlite`` with the file's path,
    ``redis`` with host, port and database (never a password from the URL)."""
    url = engine.backend_url if engine.pacing.enabled else "local"
    kind = url.split("://")[0]
    if kind == "sqlite":
        where = url[len("sqlite:///") :]
    elif kind in ("redis", "rediss"):
        parts = urlsplit(url)
        where = f"{parts.hostname or ''}:{parts.port or 6379}{parts.path or ''}"
    else:
        where = "this process"
    return {"backend": kind, "where": where, "ok": None, "latency": None, "error": None}


def _probe_key() -> tuple[str, str]:
    token = uuid.uuid4().hex
    return f"py-autotask:health:{token}", token


def _probe_result(report: dict[str, Any], token: str, got: object, started: float) -> None:
    """Fill ``report`` from one write-and-read-back of the limiter backend: ``got`` is what came
    back, or the exception it raised (named, its text scrubbed of the URL's password)."""
    report["latency"] = time.perf_counter() - started
    if isinstance(got, BaseException):
        report["ok"] = False
        report["error"] = f"{type(got).__name__}: {_without_password(str(got))}"
    elif got != token:
        report["ok"] = False
        report["error"] = "the value written was not read back"
    else:
        report["ok"] = True


def _without_password(text: str) -> str:
    return re.sub(r"(://[^:/@\s]*:)[^@\s]+@", r"\1***@", text)
