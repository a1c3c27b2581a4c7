"""``AutotaskClient`` and ``AsyncAutotaskClient``: thin shells around :mod:`py_autotask._core`.

The shells resolve the zone once, send what the core builds and return the raw response to it. The
seam for the runtime layer (pacing, retries, circuit breaker, caching) is :meth:`_send`: every API
call goes through it, with an :class:`~py_autotask._core.ApiRequest` that names the entity and
operation, and it returns the :class:`~py_autotask._core.ApiResponse` without interpreting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx
from py_autotask_generated._client_mixin import AsyncEntitiesMixin, SyncEntitiesMixin

from . import _core
from ._config import Credentials, mask_username
from ._core import ApiRequest, ApiResponse, ClientCore, NextPageMethod, PreparedRequest
from ._features import Features
from ._model import ReadStats
from ._observe import Observers
from ._reconcile import ReconcileConfig, exactly_once
from ._registry import spec_for
from ._sender import Flow, adrive, drive
from ._zones import ZoneOptions, ZoneResolver, is_dead_host, is_zone_mismatch, same_base
from .attachments import AsyncAttachments, Attachments
from .caching import (
    AsyncCacheControl,
    AsyncTenantMetadataProvider,
    CacheConfig,
    CacheControl,
    TenantMetadataProvider,
)
from .caching._metadata import MetadataProvider
from .compat._client import LegacyClientMixin, apply_request_config, legacy_positional
from .compat._names import resolve_client_attribute
from .exceptions import AutotaskConfigError, AutotaskConnectionError, AutotaskError
from .monitoring._tracing import TracingObserver
from .query import FilterArg, build_query_body
from .resilience import CircuitBreakerConfig, Estimate, Health, PacingConfig, RetryConfig
from .resilience._engine import Engine
from .resilience._shells import AsyncPipeline, SyncPipeline, build_health
from .resilience._waits import WaitListener
from .validation import AsyncPicklists, AsyncValidator, Picklists, ValidationConfig, Validator

if TYPE_CHECKING:
    import pandas as pd
    from opentelemetry.trace import TracerProvider
    from typing_extensions import Unpack

    from ._async_jobs import AsyncExporter, AsyncSyncer
    from .bulk import AsyncBulkManager, BulkManager
    from .dataframe import DataFrameOptions
    from .export import Exporter
    from .export import ProgressCallback as ExportProgressCallback
    from .sync import Syncer
    from .types import RequestConfig

__all__ = ["AsyncAutotaskClient", "AutotaskClient", "to_dataframe"]

logger = logging.getLogger("py_autotask")

E = TypeVar("E")
T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
TransportT = TypeVar("TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)

DEFAULT_TIMEOUT = 30.0


class _ClientBase(LegacyClientMixin, Generic[HttpT, TransportT]):
    """Construction, state and behaviour shared by both shells; no I/O. Listed before the
    generated mixin in the clients' bases so its ``_entity`` is the one used."""

    _core: ClientCore
    _resilience: SyncPipeline | AsyncPipeline

    def __init__(
        self,
        username: str | None = None,
        secret: str | None = None,
        integration_code: str | None = None,
        api_url: str | None = None,
        *,
        impersonation_resource_id: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: HttpT | None = None,
        transport: TransportT | None = None,
        next_page_method: NextPageMethod = "POST",
        zones: ZoneOptions | None = None,
        reconcile: ReconcileConfig | None = None,
        cache_config: CacheConfig | None = None,
        validation_config: ValidationConfig | None = None,
        retry_config: RetryConfig | None = None,
        circuit_breaker: CircuitBreakerConfig | None = None,
        pacing: PacingConfig | None = None,
        config: RequestConfig | None = None,
        strict: bool = False,
        tracing: bool | TracerProvider = True,
    ) -> None:
        username, secret, integration_code, api_url, config = legacy_positional(
            username, secret, integration_code, api_url, config
        )
        if http_client is not None and transport is not None:
            raise AutotaskConfigError("pass either http_client or transport, not both")
        credentials = Credentials.resolve(
            username,
            secret,
            integration_code,
            api_url,
            impersonation_resource_id=impersonation_resource_id,
        )
        self._core = ClientCore(credentials, next_page_method=next_page_method, strict=strict)
        if tracing is not False:
            self._core.observers.add(TracingObserver(None if tracing is True else tracing))
        if zones is not None and not isinstance(zones, ZoneOptions):
            raise AutotaskConfigError("zones must be a py_autotask.ZoneOptions")
        # An explicit api_url (argument or AUTOTASK_API_URL) switches zone discovery off.
        self._zone_explicit = credentials.api_url is not None
        self._zones = ZoneResolver(zones or ZoneOptions(), credentials)
        if reconcile is not None and not isinstance(reconcile, ReconcileConfig):
            raise AutotaskConfigError("reconcile must be a py_autotask.ReconcileConfig")
        self._reconcile = reconcile or ReconcileConfig()
        self._attachments: Any = None
        self._entities: dict[type[Any], Any] = {}
        timeout, retry_config = apply_request_config(self, config, timeout, retry_config)
        self._owns_http = http_client is None
        self._http: HttpT = http_client or self._new_http(timeout, transport)
        self._setup(Engine(self._core, retry_config, circuit_breaker, pacing))
        self._features = Features(self._core, cache_config, validation_config)
        self._features.metadata = self._new_metadata(self._features.metadata_options)

    # what differs between the two clients (set up by each)

    def _new_http(self, timeout: float, transport: TransportT | None) -> HttpT:
        raise NotImplementedError

    def _setup(self, engine: Engine) -> None:
        """The resilient pipeline and the zone lock."""
        raise NotImplementedError

    def _new_metadata(self, options: dict[str, Any]) -> MetadataProvider:
        raise NotImplementedError

    def _strict(self, strict: bool | None) -> bool:
        """A job's ``strict``: as given, else the client's own."""
        return self._core.strict if strict is None else strict

    @property
    def credentials(self) -> Credentials:
        """The credentials in use (their ``repr`` hides the secret values)."""
        return self._core.credentials

    @property
    def stats(self) -> ReadStats:
        """What reading met: ``client.stats.off_type`` -> ``{(entity, field): count}`` of values
        that did not match their declared type (read anyway unless ``strict=True``); and what
        sending did: ``client.stats.requests`` counts requests sent (retries, rejected attempts
        and threshold polls included) and rate-limit rejections and seconds waited per kind
        (``.rejected``, ``.waited``, ``.to_dict()``)."""
        return self._core.stats

    @property
    def observers(self) -> Observers:
        """What the pipeline and the jobs report to: ``client.observers.add(observer)`` with a
        :class:`~py_autotask.monitoring.Observer` subclass sees every HTTP attempt (retries and
        threshold polls included), wait, cache lookup, off-type value, job, row count and lag.
        :class:`~py_autotask.monitoring.MetricsCollector` and the tracing are observers."""
        return self._core.observers

    def add_wait_listener(self, listener: WaitListener) -> None:
        """Call ``listener(event)`` with a :class:`~py_autotask.resilience.WaitEvent` whenever
        the client is about to wait longer than ``PacingConfig.wait_notice_after`` (5 s) before
        sending: pacing, the hourly budget draining, a ``Retry-After``, thread-limit backoff, a
        free in-flight slot. ``str(event)`` reads ``waiting 4m10s: ...; resumes about 16:42
        UTC``. It is called from the waiting thread (a watchdog thread for slot waits) and
        must be quick. With no listener, each notice is logged at WARNING on
        ``py_autotask.resilience``; a listener replaces that line."""
        self._resilience.engine.notices.add(listener)

    def remove_wait_listener(self, listener: WaitListener) -> None:
        """Stop calling a listener added with :meth:`add_wait_listener`."""
        self._resilience.engine.notices.remove(listener)

    @property
    def threshold_reading(self) -> dict[str, Any] | None:
        """The pacing's last ThresholdInformation reading, without sending a request:
        ``externalRequestThreshold``, ``currentTimeframeRequestCount``,
        ``requestThresholdTimeframe`` and ``age_seconds``; ``None`` before the first reading
        (the pacing polls after ``PacingConfig.threshold_first_poll_after`` requests)."""
        return self._resilience.engine.threshold_report()

    @property
    def api_url(self) -> str | None:
        """The REST base URL (``.../ATServicesRest/V1.0/``), ``None`` until zone discovery ran."""
        return self._core.base_url

    @property
    def zone_discovery(self) -> bool:
        """Whether the zone is discovered (and a moved tenant followed); ``False`` when an
        ``api_url`` was given (argument or ``AUTOTASK_API_URL``)."""
        return not self._zone_explicit

    def health_snapshot(self) -> Health:
        """What the client knows now, without sending anything: the last ThresholdInformation
        read, breaker states and pacing (no in-flight counts, no limiter round trip). Cheap
        enough for observers (alerts) to call after every request; :meth:`health` reads fresh."""
        return build_health(self._resilience.engine, self.api_url, None, None, {})

    def _entity(self, cls: type[E]) -> E:
        """The per-client instance of a generated entity class (created on first use)."""
        instance = self._entities.get(cls)
        if instance is None:
            instance = cls(self)  # type: ignore[call-arg]
            self._entities[cls] = instance
        return instance

    def _make_request(
        self, method: str, path_or_url: str, params: Mapping[str, Any] | None, json: Any
    ) -> ApiRequest:
        if not isinstance(method, str) or not method.strip():
            raise AutotaskConfigError("method must be an HTTP method name such as 'GET'")
        str_params = {str(k): str(v) for k, v in params.items()} if params else None
        return ApiRequest(
            method.strip().upper(), path_or_url, json=json, params=str_params, operation="raw"
        )

    def _response(self, prepared: PreparedRequest, response: httpx.Response) -> ApiResponse:
        logger.debug(
            "%s %s -> %s", prepared.method, self._core.safe_url(prepared.url), response.status_code
        )
        result = ApiResponse(response.status_code, response.headers, response.content, prepared)
        # httpx binds each response to its stream and the stream back to it (encode/httpx#3733),
        # so a response, and its body, lives until the cyclic GC runs: an export piled up five
        # or more 1.25 MB pages that way. The body is read and the stream closed: unbind them.
        response.stream = httpx.ByteStream(b"")
        return result

    def _connection_error(
        self, prepared: PreparedRequest, exc: httpx.RequestError
    ) -> AutotaskConnectionError:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        url = self._core.safe_url(prepared.url)
        detail = self._core.safe_url(str(exc))
        return AutotaskConnectionError(
            f"{prepared.method} {url} {kind}: {type(exc).__name__}: {detail}",
            method=prepared.method,
            url=url,
        )

    @contextlib.contextmanager
    def impersonating(self, resource_id: int | None) -> Iterator[None]:
        """Send the calls made inside the block as resource ``resource_id``
        (``ImpersonationResourceId``); ``None`` sends them as the API user itself, overriding a
        client-wide ``impersonation_resource_id``. Context-local: other threads and asyncio tasks
        are unaffected, tasks started inside the block inherit it. Works with ``async`` code too::

            with client.impersonating(29682885):
                await client.tickets.create({...})   # creatorResourceID = 29682885
        """
        if resource_id is not None and (
            isinstance(resource_id, bool) or not isinstance(resource_id, int) or resource_id <= 0
        ):
            raise AutotaskConfigError("resource_id must be a positive integer or None")
        token = self._core.impersonation.set(resource_id)
        try:
            yield
        finally:
            self._core.impersonation.reset(token)

    def _zone_following_enabled(self, prepared: PreparedRequest) -> bool:
        return (
            not self._zone_explicit
            and self._zones.options.follow_moves
            and prepared.source is not None
        )

    def _switch_zone(self, current: str | None, url: str) -> bool:
        """Point the client at ``url`` after a fresh discovery; ``False`` when nothing changed
        (then further re-discoveries wait for the cool-down)."""
        if current is not None and url.lower() == current.lower():
            self._zones.start_cooldown()
            return False
        logger.warning("Autotask zone changed: %s -> %s; resending the request there", current, url)
        self._core.set_base_url(url)
        return True

    if not TYPE_CHECKING:  # type checkers stay strict about attribute names

        def __getattr__(self, name: str) -> Any:
            """Legacy names: SOAP-era / 2.x spellings of real collections (``client.accounts``)
            return them with a ``DeprecationWarning``; names Autotask never had raise
            :class:`~py_autotask.exceptions.AutotaskUnknownEntityError` saying what to use."""
            return resolve_client_attribute(self, name)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_url={self.api_url!r}, "
            f"username={mask_username(self._core.credentials.username)!r})"
        )


class _SyncSender:
    """``AutotaskClient.sender``: the :class:`~py_autotask._sender.Sender` features are given."""

    __slots__ = ("_send", "reader")

    def __init__(self, reader: ClientCore, send: Callable[[ApiRequest], ApiResponse]) -> None:
        self.reader = reader
        self._send = send

    def send(self, request: ApiRequest) -> ApiResponse:
        return self._send(request)

    def run(self, flow: Flow[T]) -> T:
        return drive(flow, self._send)

    def __repr__(self) -> str:
        return "<Sender of an AutotaskClient>"


class _AsyncSender:
    """``AsyncAutotaskClient.sender``: the :class:`~py_autotask._sender.AsyncSender`."""

    __slots__ = ("_send", "reader")

    def __init__(
        self, reader: ClientCore, send: Callable[[ApiRequest], Awaitable[ApiResponse]]
    ) -> None:
        self.reader = reader
        self._send = send

    async def send(self, request: ApiRequest) -> ApiResponse:
        return await self._send(request)

    async def run(self, flow: Flow[T]) -> T:
        return await adrive(flow, self._send)

    def __repr__(self) -> str:
        return "<AsyncSender of an AsyncAutotaskClient>"


def _count_flow(reader: ClientCore, request: ApiRequest) -> Flow[int]:
    response = yield request
    return reader.read_count(response)


def _body(filter: FilterArg | None) -> dict[str, Any]:
    return build_query_body(filter)


def _httpx_request(prepared: PreparedRequest) -> httpx.Request:
    return httpx.Request(
        prepared.method, prepared.url, headers=dict(prepared.headers), content=prepared.content
    )


class AutotaskClient(_ClientBase[httpx.Client, httpx.BaseTransport], SyncEntitiesMixin):
    """Synchronous Autotask REST client.

    Credentials fall back to ``AUTOTASK_USERNAME`` / ``AUTOTASK_SECRET`` /
    ``AUTOTASK_INTEGRATION_CODE`` / ``AUTOTASK_API_URL``. Without an ``api_url`` the zone is
    discovered on the first call. Pass ``http_client`` to reuse your own ``httpx.Client`` (it is not
    closed by :meth:`close`) or ``transport`` to plug in e.g. ``httpx.MockTransport``.
    ``cache_config`` (:class:`~py_autotask.caching.CacheConfig`) turns on the response cache
    (``client.cache``); ``validation_config`` (:class:`~py_autotask.validation.ValidationConfig`)
    checks and converts write bodies before anything is sent.
    ``next_page_method`` is how ``nextPageUrl`` is followed after a POST query ('POST' re-sends the
    same QueryModel body; 'GET' sends none). ``zones`` (:class:`~py_autotask.ZoneOptions`) tunes zone
    discovery: lookup URL, the on-disk zone cache, probing and following a tenant whose zone moved.
    ``reconcile`` (:class:`~py_autotask.ReconcileConfig`) keeps creates exactly-once when their
    outcome is unknown (a correlation token per create, looked up before any resend).
    ``strict=True`` raises :class:`~py_autotask.AutotaskOffTypeValueError` for a record value that
    does not match its declared type; by default it is converted where lossless or kept as
    received, and counted in ``client.stats``.
    ``tracing`` reports each HTTP attempt and job as an OpenTelemetry span
    (:class:`~py_autotask.monitoring.TracingObserver`): ``True`` (default) through the global
    tracer provider, a no-op until the application installs an SDK; an
    ``opentelemetry.trace.TracerProvider`` to use that one instead; ``False`` for none.
    ``with client.impersonating(resource_id):`` acts as another resource for the calls inside;
    ``client.attachments`` uploads and downloads files through their parent records.
    """

    _resilience: SyncPipeline

    def _new_http(self, timeout: float, transport: httpx.BaseTransport | None) -> httpx.Client:
        return httpx.Client(timeout=timeout, transport=transport)

    def _setup(self, engine: Engine) -> None:
        self._resilience = SyncPipeline(engine, self._transmit)
        self._zone_lock = threading.Lock()

    def _new_metadata(self, options: dict[str, Any]) -> MetadataProvider:
        return TenantMetadataProvider(self._core, self._send_resilient, **options)

    # --- the seam ---------------------------------------------------------------------------------

    def _send(self, request: ApiRequest) -> ApiResponse:
        """Send one API request and return the raw response (no status interpretation).

        Layers, outermost first: exactly-once creates (:mod:`py_autotask._reconcile`) ->
        ``_send_features`` (write validation/conversion, SOAP-era aliases, response cache and
        invalidation; :mod:`py_autotask._features`) -> ``_send_resilient`` (pacing, retries,
        circuit breaker) -> ``_transmit`` (one HTTP exchange, following a moved zone).
        """
        self._ensure_api_url()
        if request.operation == "create":
            return drive(exactly_once(self._reconcile, self._core, request), self._send_features)
        return self._send_features(request)

    def _send_features(self, request: ApiRequest) -> ApiResponse:
        return drive(self._features.send(request), self._send_resilient)

    def _run_pipeline(self, flow: Flow[T]) -> T:
        """Drive a flow of the features layer (its requests go to the resilient layer)."""
        self._ensure_api_url()
        return drive(flow, self._send_resilient)

    @property
    def sender(self) -> _SyncSender:
        """The :class:`~py_autotask._sender.Sender` features are built on: ``send(request)``
        through the whole pipeline, ``run(flow)``, and ``reader`` for the responses."""
        sender: _SyncSender | None = self.__dict__.get("_sender")
        if sender is None:
            sender = self.__dict__["_sender"] = _SyncSender(self._core, self._send)
        return sender

    def to_dataframe(
        self, entity: Any, filters: Any = None, **options: Unpack[DataFrameOptions]
    ) -> pd.DataFrame:
        """Every row of ``entity`` (``"Tickets"``, ``client.tickets``...) matching ``filters`` as
        a pandas DataFrame with metadata dtypes; ``options``
        (:class:`~py_autotask.dataframe.DataFrameOptions`): ``date_range``, ``date_field``,
        ``picklist_labels``, ``categorical``, ``workers``, ``strict`` (default: the client's). See
        :mod:`py_autotask.dataframe`. Needs ``pip install 'py-autotask[pandas]'``."""
        from .dataframe import entity_to_dataframe

        options["strict"] = self._strict(options.get("strict"))
        return entity_to_dataframe(self.sender, spec_for(entity), filters, **options)

    @property
    def cache(self) -> CacheControl:
        """Cache statistics, warming, invalidation and clearing (needs ``cache_config=``)."""
        return CacheControl(self._features, self._run_pipeline)

    @property
    def metadata(self) -> TenantMetadataProvider:
        """Tenant metadata (fields, picklists, UDF definitions), fetched lazily and cached."""
        metadata = self._features.metadata
        assert isinstance(metadata, TenantMetadataProvider)
        return metadata

    @property
    def picklists(self) -> Picklists:
        """Picklist labels of this tenant: ``client.picklists.label("Tickets", "status", 5)``."""
        return Picklists(self.metadata)

    @property
    def validation(self) -> Validator:
        """Dry-run checks (``check``) and local-time conversion (``localize``)."""
        return Validator(self._features.validation_config, self.metadata)

    @property
    def attachments(self) -> Attachments:
        """Upload and download attachments through their parent routes
        (:class:`~py_autotask.attachments.Attachments`)."""
        if self._attachments is None:
            self._attachments = Attachments(self.sender)
        result: Attachments = self._attachments
        return result

    def _send_resilient(self, request: ApiRequest) -> ApiResponse:
        """Pacing, retries and the circuit breaker around :meth:`_transmit`
        (:mod:`py_autotask.resilience`)."""
        self._ensure_api_url()
        return self._resilience.send(self._core.prepare(request))

    def _transmit(self, prepared: PreparedRequest) -> ApiResponse:
        """One HTTP exchange. When the zone stopped accepting the user (401, a dead host, an IIS
        HTML 404) the zone is re-discovered once and the same request goes to the new zone."""
        try:
            response = self._exchange(prepared)
        except AutotaskConnectionError as exc:
            if not is_dead_host(exc.__cause__):
                raise
            moved = self._follow_zone(prepared)
            if moved is None:
                raise
            return self._exchange(moved)
        if is_zone_mismatch(response.status_code, response.headers, response.content):
            moved = self._follow_zone(prepared)
            if moved is not None:
                return self._exchange(moved)
        return response

    def _exchange(self, prepared: PreparedRequest) -> ApiResponse:
        try:
            response = self._http.send(_httpx_request(prepared))
        except httpx.RequestError as exc:
            raise self._connection_error(prepared, exc) from exc
        return self._response(prepared, response)

    def _follow_zone(self, prepared: PreparedRequest) -> PreparedRequest | None:
        """Re-discover the zone (bypassing the cache) after ``prepared`` failed on its host; the
        request rebuilt for the new zone, or ``None`` when the zone did not change."""
        if not self._zone_following_enabled(prepared):
            return None
        assert prepared.source is not None
        with self._zone_lock:
            current = self._core.base_url
            if same_base(prepared.url, current):
                if self._zones.cooling_down():
                    return None
                try:
                    url = self._zones.discover(self._http, fresh=True)
                except AutotaskError as exc:
                    logger.warning("zone re-discovery failed: %s", exc)
                    self._zones.start_cooldown()
                    return None
                if not self._switch_zone(current, url):
                    return None
        return self._core.prepare(prepared.source)

    def _ensure_api_url(self) -> None:
        if self._core.base_url is not None:
            return
        with self._zone_lock:
            if self._core.base_url is None:
                self._core.set_base_url(self._discover_api_url())

    def _discover_api_url(self) -> str:
        """The zone's REST base URL: the zone cache, else ``zoneInformation``, else probing."""
        return self._zones.discover(self._http)

    # --- public -----------------------------------------------------------------------------------

    def raw_request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Call any endpoint: ``path_or_url`` is relative to the REST base (``"Tickets/123"``,
        ``"ThresholdInformation"``) or an absolute URL on the API host. Returns the parsed JSON body
        (``None`` when empty); failures raise the usual :class:`AutotaskAPIError` subclasses."""
        request = self._make_request(method, path_or_url, params, json)
        return self._core.read_json(self._send(request))

    def create_syncer(
        self, *, page_size: int = 500, progress: Any = None, strict: bool | None = None
    ) -> Syncer:
        """A :class:`~py_autotask.sync.Syncer` that mirrors collections into SQLite, PostgreSQL
        or DuckDB (``syncer.sync_to_database(connection_string, entities, sync_interval)``).
        ``progress(entity, phase, rows_done, rows_total)`` is called after each committed page."""
        from .sync import Syncer

        return Syncer(
            self.sender, page_size=page_size, progress=progress, strict=self._strict(strict)
        )

    def create_exporter(
        self,
        *,
        workers: int = 3,
        picklist_labels: bool = False,
        neutralize_formulas: bool = True,
        fsync: bool = True,
        progress: ExportProgressCallback | None = None,
        strict: bool | None = None,
    ) -> Exporter:
        """An :class:`~py_autotask.export.Exporter`: ``exporter.add_entities("tickets")``, then
        ``exporter.export(path, format=...)`` (CSV, JSON, JSON Lines, Excel, Parquet, SQLite, DuckDB)
        or ``exporter.to_sql(connection)``. ``workers`` concurrent requests per entity (Autotask
        allows 3 per endpoint). ``progress(entity, phase, rows_done, rows_total)`` is called after
        every page (phases ``fetch``, ``related``, ``write``; from worker threads)."""
        from .export import Exporter

        return Exporter(
            self.sender,
            workers=workers,
            picklist_labels=picklist_labels,
            neutralize_formulas=neutralize_formulas,
            fsync=fsync,
            progress=progress,
            strict=self._strict(strict),
        )

    def estimate(
        self,
        entity: Any,
        filter: FilterArg | None = None,
        *,
        page_size: int = 500,
        latency: float | None = None,
        concurrency: int = 1,
        records: int | None = None,
    ) -> Estimate:
        """What reading every record matching ``filter`` will cost, before reading it: one count
        request (made now) plus one request per page, and the time at the current threshold usage,
        latency and pacing. ``entity`` is e.g. ``client.tickets`` or ``"Tickets"``; ``latency`` is
        the seconds per request to assume (default: the measured average, else 0.5);
        ``concurrency`` the pages in flight at once (1 for ``query_all``, an export's ``workers``,
        at most 3). ``records``: the count when already known (no request is made; e.g. a second
        estimate of the same read at another ``concurrency``)."""
        spec = spec_for(entity)
        if records is None:
            request = _core.count_request(spec, _body(filter))
            records = self.sender.run(_count_flow(self._core, request))
        return self._resilience.engine.estimate(spec.name, records, page_size, latency, concurrency)

    def health(self) -> Health:
        """Reachability, API URL, threshold usage (one ThresholdInformation request), in-flight
        requests per endpoint, breaker states and the retry budget. Never raises."""
        return self._resilience.health(self._ensure_api_url, lambda: self.api_url)

    def lookup_zone(self) -> str:
        """The zone URL Autotask's ``zoneInformation`` answers for this user now: one
        unauthenticated lookup past the zone cache, no probing (the answer is cached). Compare it
        with :attr:`api_url` to see whether the tenant moved. Raises
        :class:`~py_autotask.exceptions.AutotaskConfigError` when discovery is off
        (:attr:`zone_discovery`) or the answer is unusable, ``AutotaskConnectionError`` when the
        lookup is unreachable."""
        if self._zone_explicit:
            raise AutotaskConfigError("zone discovery is off: an api_url was given")
        return self._zones.lookup(self._http)

    def create_bulk_manager(self, **options: Any) -> BulkManager:
        """A :class:`~py_autotask.bulk.BulkManager`: ``bulk_create`` / ``bulk_update`` /
        ``bulk_delete`` with validation, conflict resolution, a write-ahead journal, ``resume`` and
        ``undo``. ``options``: ``max_concurrent``, ``journal_dir``..."""
        from .bulk import BulkManager

        return BulkManager(self.sender, **options)

    def close(self) -> None:
        """Close the underlying ``httpx.Client`` if this client created it (and detach what
        attached itself to the client: plugin managers)."""
        self._core.closed()
        self._resilience.close()
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AutotaskClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncAutotaskClient(
    _ClientBase[httpx.AsyncClient, httpx.AsyncBaseTransport], AsyncEntitiesMixin
):
    """Asynchronous Autotask REST client; use ``async with AsyncAutotaskClient(...) as client``.

    Same arguments as :class:`AutotaskClient`, with an ``httpx.AsyncClient`` /
    ``httpx.AsyncBaseTransport``.
    """

    _resilience: AsyncPipeline

    def _new_http(
        self, timeout: float, transport: httpx.AsyncBaseTransport | None
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout, transport=transport)

    def _setup(self, engine: Engine) -> None:
        self._resilience = AsyncPipeline(engine, self._transmit)
        self._zone_lock = asyncio.Lock()

    def _new_metadata(self, options: dict[str, Any]) -> MetadataProvider:
        return AsyncTenantMetadataProvider(self._core, self._send_resilient, **options)

    # --- the seam ---------------------------------------------------------------------------------

    def create_exporter(
        self,
        *,
        workers: int = 3,
        picklist_labels: bool = False,
        neutralize_formulas: bool = True,
        fsync: bool = True,
        progress: ExportProgressCallback | None = None,
        strict: bool | None = None,
    ) -> AsyncExporter:
        """The exporter of :meth:`AutotaskClient.create_exporter` for async code: configure it the
        same way, then ``await exporter.export(path, format=...)`` / ``await exporter.to_sql(...)``.
        The work runs on a thread; its requests go through this client on this event loop."""
        from ._async_jobs import AsyncExporter

        return AsyncExporter(
            self.sender,
            workers=workers,
            picklist_labels=picklist_labels,
            neutralize_formulas=neutralize_formulas,
            fsync=fsync,
            progress=progress,
            strict=self._strict(strict),
        )

    def create_syncer(
        self, *, page_size: int = 500, progress: Any = None, strict: bool | None = None
    ) -> AsyncSyncer:
        """The syncer of :meth:`AutotaskClient.create_syncer` for async code:
        ``await syncer.sync_to_database(connection_string, entities, sync_interval)``."""
        from ._async_jobs import AsyncSyncer

        return AsyncSyncer(
            self.sender, page_size=page_size, progress=progress, strict=self._strict(strict)
        )

    async def _send(self, request: ApiRequest) -> ApiResponse:
        """Async twin of :meth:`AutotaskClient._send` (the same layers)."""
        await self._ensure_api_url()
        if request.operation == "create":
            flow = exactly_once(self._reconcile, self._core, request)
            return await adrive(flow, self._send_features)
        return await self._send_features(request)

    async def _send_features(self, request: ApiRequest) -> ApiResponse:
        return await adrive(self._features.send(request), self._send_resilient)

    async def _run_pipeline(self, flow: Flow[T]) -> T:
        """Async twin of :meth:`AutotaskClient._run_pipeline`."""
        await self._ensure_api_url()
        return await adrive(flow, self._send_resilient)

    @property
    def sender(self) -> _AsyncSender:
        """The :class:`~py_autotask._sender.AsyncSender` features are built on."""
        sender: _AsyncSender | None = self.__dict__.get("_sender")
        if sender is None:
            sender = self.__dict__["_sender"] = _AsyncSender(self._core, self._send)
        return sender

    async def to_dataframe(
        self, entity: Any, filters: Any = None, **options: Unpack[DataFrameOptions]
    ) -> pd.DataFrame:
        """Async twin of :meth:`AutotaskClient.to_dataframe`."""
        from ._async_jobs import async_entity_to_dataframe

        options["strict"] = self._strict(options.get("strict"))
        return await async_entity_to_dataframe(self.sender, spec_for(entity), filters, **options)

    @property
    def cache(self) -> AsyncCacheControl:
        """Async twin of :attr:`AutotaskClient.cache` (``await client.cache.warm(...)``)."""
        return AsyncCacheControl(self._features, self._run_pipeline)

    @property
    def metadata(self) -> AsyncTenantMetadataProvider:
        """Async twin of :attr:`AutotaskClient.metadata` (awaitable accessors)."""
        metadata = self._features.metadata
        assert isinstance(metadata, AsyncTenantMetadataProvider)
        return metadata

    @property
    def picklists(self) -> AsyncPicklists:
        """Async twin of :attr:`AutotaskClient.picklists` (awaitable)."""
        return AsyncPicklists(self.metadata)

    @property
    def validation(self) -> AsyncValidator:
        """Async twin of :attr:`AutotaskClient.validation`."""
        return AsyncValidator(self._features.validation_config, self.metadata)

    @property
    def attachments(self) -> AsyncAttachments:
        """Async twin of :attr:`AutotaskClient.attachments`."""
        if self._attachments is None:
            self._attachments = AsyncAttachments(self.sender)
        result: AsyncAttachments = self._attachments
        return result

    async def _send_resilient(self, request: ApiRequest) -> ApiResponse:
        """Async twin of :meth:`AutotaskClient._send_resilient` (pacing, retries, breaker)."""
        await self._ensure_api_url()
        return await self._resilience.send(self._core.prepare(request))

    async def _transmit(self, prepared: PreparedRequest) -> ApiResponse:
        """Async twin of :meth:`AutotaskClient._transmit` (follows a moved zone once)."""
        try:
            response = await self._exchange(prepared)
        except AutotaskConnectionError as exc:
            if not is_dead_host(exc.__cause__):
                raise
            moved = await self._follow_zone(prepared)
            if moved is None:
                raise
            return await self._exchange(moved)
        if is_zone_mismatch(response.status_code, response.headers, response.content):
            moved = await self._follow_zone(prepared)
            if moved is not None:
                return await self._exchange(moved)
        return response

    async def _exchange(self, prepared: PreparedRequest) -> ApiResponse:
        try:
            response = await self._http.send(_httpx_request(prepared))
        except httpx.RequestError as exc:
            raise self._connection_error(prepared, exc) from exc
        return self._response(prepared, response)

    async def _follow_zone(self, prepared: PreparedRequest) -> PreparedRequest | None:
        """Async twin of :meth:`AutotaskClient._follow_zone`."""
        if not self._zone_following_enabled(prepared):
            return None
        assert prepared.source is not None
        async with self._zone_lock:
            current = self._core.base_url
            if same_base(prepared.url, current):
                if self._zones.cooling_down():
                    return None
                try:
                    url = await self._zones.adiscover(self._http, fresh=True)
                except AutotaskError as exc:
                    logger.warning("zone re-discovery failed: %s", exc)
                    self._zones.start_cooldown()
                    return None
                if not self._switch_zone(current, url):
                    return None
        return self._core.prepare(prepared.source)

    async def _ensure_api_url(self) -> None:
        if self._core.base_url is not None:
            return
        async with self._zone_lock:
            if self._core.base_url is None:
                self._core.set_base_url(await self._discover_api_url())

    async def _discover_api_url(self) -> str:
        """Async twin of :meth:`AutotaskClient._discover_api_url`."""
        return await self._zones.adiscover(self._http)

    # --- public -----------------------------------------------------------------------------------

    async def raw_request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Async twin of :meth:`AutotaskClient.raw_request`."""
        request = self._make_request(method, path_or_url, params, json)
        return self._core.read_json(await self._send(request))

    async def estimate(
        self,
        entity: Any,
        filter: FilterArg | None = None,
        *,
        page_size: int = 500,
        latency: float | None = None,
        concurrency: int = 1,
        records: int | None = None,
    ) -> Estimate:
        """Async twin of :meth:`AutotaskClient.estimate`."""
        spec = spec_for(entity)
        if records is None:
            request = _core.count_request(spec, _body(filter))
            records = await self.sender.run(_count_flow(self._core, request))
        return self._resilience.engine.estimate(spec.name, records, page_size, latency, concurrency)

    async def health(self) -> Health:
        """Async twin of :meth:`AutotaskClient.health`."""
        return await self._resilience.health(self._ensure_api_url, lambda: self.api_url)

    async def lookup_zone(self) -> str:
        """Async twin of :meth:`AutotaskClient.lookup_zone`."""
        if self._zone_explicit:
            raise AutotaskConfigError("zone discovery is off: an api_url was given")
        return await self._zones.alookup(self._http)

    def create_bulk_manager(self, **options: Any) -> AsyncBulkManager:
        """Async twin of :meth:`AutotaskClient.create_bulk_manager` (coroutine methods)."""
        from .bulk import AsyncBulkManager

        return AsyncBulkManager(self.sender, **options)

    async def close(self) -> None:
        """Close the underlying ``httpx.AsyncClient`` if this client created it (and detach what
        attached itself to the client: plugin managers)."""
        self._core.closed()
        await self._resilience.close()
        if self._owns_http:
            await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncAutotaskClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def to_dataframe(
    entity: str,
    filters: Any = None,
    *,
    client: AutotaskClient | None = None,
    **options: Unpack[DataFrameOptions],
) -> pd.DataFrame:
    """``py_autotask.to_dataframe``: every row of ``entity`` matching ``filters`` as a DataFrame
    (see :mod:`py_autotask.dataframe` and :class:`~py_autotask.dataframe.DataFrameOptions`: ``date_range``, ``date_field``,
    ``picklist_labels``, ``categorical``, ``workers``, ``strict``), read with ``client`` or, by
    default, with a client built from the ``AUTOTASK_*`` environment variables (closed
    afterwards)."""
    own = client is None
    active = client if client is not None else AutotaskClient()
    try:
        return active.to_dataframe(entity, filters, **options)
    finally:
        if own:
            active.close()
