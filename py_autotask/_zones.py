"""Zone discovery, the per-user zone cache, zone-host probing and following a tenant that moved.

An Autotask database lives in one zone (``https://webservices<N>.autotask.net``). The client finds
it with the unauthenticated ``zoneInformation?user=<username>`` lookup on the generic host, keeps the
answer in a small JSON cache file for ``cache_ttl`` seconds (keyed by a SHA-256 of the lookup URL and
the user name: no user name, secret or integration code is ever written), and re-discovers *once*
when the cached zone stops accepting the user (401, connection refused/DNS failure, an IIS HTML 404),
then carries on with the same request on the new host.

When the lookup itself is unreachable, the known zone hosts (:data:`KNOWN_ZONE_HOSTS`, from the
zone table Autotask clients ship) are probed in parallel with one authenticated ``GET Version`` each
-- the smallest authenticated call; note it counts against the tenant's 10,000 requests/hour -- and
the host that accepts the credentials wins. Only one zone holds a tenant's data: other zones answer
401, so probing can only find the right host, never a "fallback" one.

An explicit ``api_url`` disables all of this. ``https`` is required for every real host; plain
``http`` only for loopback (simulator) hosts, and a discovery answer never downgrades to ``http``.

Nothing in this module keeps a reference to a secret beyond the call that needs it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from ._config import (
    ENV_API_URL,
    ZONE_LOOKUP_URL,
    api_url_from_zone_response,
    normalize_api_url,
    user_cache_dir,
    zone_lookup_url,
)
from .exceptions import AutotaskConfigError, AutotaskConnectionError, scrub_secrets

if TYPE_CHECKING:
    import httpx

    from ._config import Credentials

__all__ = [
    "DEFAULT_ZONE_CACHE_TTL",
    "KNOWN_ZONE_HOSTS",
    "ZONE_CACHE_ENV",
    "ZoneCache",
    "ZoneOptions",
    "ZoneResolver",
    "default_zone_cache_path",
]

logger = logging.getLogger("py_autotask.zones")

#: API hosts of the Autotask zones (the zone table shipped by public clients, 2026). Probed only
#: when the zoneInformation lookup is unreachable.
KNOWN_ZONE_HOSTS: Final[tuple[str, ...]] = (
    "webservices1.autotask.net",
    "webservices2.autotask.net",
    "webservices3.autotask.net",
    "webservices4.autotask.net",
    "webservices5.autotask.net",
    "webservices6.autotask.net",
    "webservices11.autotask.net",
    "webservices12.autotask.net",
    "webservices14.autotask.net",
    "webservices15.autotask.net",
    "webservices16.autotask.net",
    "webservices17.autotask.net",
    "webservices18.autotask.net",
    "webservices19.autotask.net",
    "webservices22.autotask.net",
    "webservices24.autotask.net",
    "webservices25.autotask.net",
    "webservices26.autotask.net",
    "webservices28.autotask.net",
    "webservices29.autotask.net",
    "prde.autotask.net",
    "pres.autotask.net",
)

#: One day: zones move rarely, and a stale entry is corrected on the first 401 anyway.
DEFAULT_ZONE_CACHE_TTL: Final = 24 * 3600.0

#: Environment variable naming the zone cache file; ``0``/``off``/``false`` disables the cache.
ZONE_CACHE_ENV: Final = "PY_AUTOTASK_ZONE_CACHE"

_CACHE_FORMAT: Final = 1
_PROBE_PATH: Final = "Version"
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_loopback(host: str) -> bool:
    host = host.lower().strip("[]")
    return host in _LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def default_zone_cache_path() -> Path:
    """``$XDG_CACHE_HOME/py-autotask/zones.json``, else ``~/.cache/py-autotask/zones.json``."""
    return user_cache_dir() / "zones.json"


def _cache_disabled_by_env() -> bool:
    return os.environ.get(ZONE_CACHE_ENV, "").strip().lower() in ("0", "off", "false", "no")


@dataclass(frozen=True)
class ZoneOptions:
    """How the client finds (and re-finds) the tenant's zone. Ignored when ``api_url`` is given.

    Attributes:
        lookup_url: the ``zoneInformation`` endpoint (the generic host by default; point it at a
            simulator's ``.../V1.0/zoneInformation`` in tests). Must be https unless loopback.
        cache: keep discovered zones on disk (``False`` disables; the env variable
            ``PY_AUTOTASK_ZONE_CACHE=0`` disables it too).
        cache_path: the cache file; default ``$PY_AUTOTASK_ZONE_CACHE`` when it names a file,
            else :func:`default_zone_cache_path`.
        cache_ttl: seconds a cached zone is used without a new lookup.
        probe_hosts: hosts or base URLs probed when the lookup is unreachable; ``None`` means
            :data:`KNOWN_ZONE_HOSTS`, an empty sequence disables probing.
        probe_timeout: seconds each probe may take.
        follow_moves: re-discover once when the zone answers 401 / is unreachable / answers an
            HTML 404, then resend the same request to the new zone.
        rediscover_cooldown: after a re-discovery that found the same zone (a genuine 401, a host
            that is down for everyone), skip further re-discoveries for this many seconds.
    """

    lookup_url: str = ZONE_LOOKUP_URL
    cache: bool = True
    cache_path: str | os.PathLike[str] | None = None
    cache_ttl: float = DEFAULT_ZONE_CACHE_TTL
    probe_hosts: Sequence[str] | None = None
    probe_timeout: float = 10.0
    follow_moves: bool = True
    rediscover_cooldown: float = 60.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.lookup_url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        if scheme not in ("http", "https") or not host:
            raise AutotaskConfigError(
                f"zone lookup_url must be an https URL, got {self.lookup_url!r}"
            )
        if scheme == "http" and not _is_loopback(host):
            raise AutotaskConfigError(
                f"zone lookup_url {self.lookup_url!r} uses plain http; https is required "
                "(http only for a local simulator on localhost/127.0.0.1)"
            )
        if self.cache_ttl < 0 or self.probe_timeout <= 0 or self.rediscover_cooldown < 0:
            raise AutotaskConfigError(
                "cache_ttl and rediscover_cooldown must be >= 0, probe_timeout > 0"
            )
        if isinstance(self.probe_hosts, str):
            raise AutotaskConfigError("probe_hosts must be a sequence of hosts, not one string")
        self.probe_base_urls()  # https-only and well-formed, checked now rather than mid-outage

    def resolved_cache_path(self) -> Path | None:
        """The cache file to use, or ``None`` when caching is off."""
        if not self.cache or _cache_disabled_by_env():
            return None
        if self.cache_path is not None:
            return Path(self.cache_path)
        env = os.environ.get(ZONE_CACHE_ENV, "").strip()
        if env and env.lower() not in ("1", "on", "true", "yes"):
            return Path(env)
        return default_zone_cache_path()

    def probe_base_urls(self) -> list[str]:
        """Normalised REST base URLs to probe (https enforced for non-loopback hosts)."""
        hosts = KNOWN_ZONE_HOSTS if self.probe_hosts is None else tuple(self.probe_hosts)
        return list(dict.fromkeys(normalize_api_url(h) for h in hosts))

    @property
    def uses_generic_host(self) -> bool:
        return self.lookup_url.rstrip("/").lower() == ZONE_LOOKUP_URL.lower()


class ZoneCache:
    """The on-disk zone cache: ``{"format": 1, "zones": {<sha256>: {"apiUrl", "storedAt"}}}``.

    Keys are ``sha256(lookup_url + NUL + lower(username))``; the file never holds a user name or a
    secret. Writes are atomic (temp file + ``os.replace``) with mode ``0600``. A missing, unreadable
    or corrupt file behaves like an empty cache; a failing write is logged and ignored.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, ttl: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.ttl = ttl
        self._clock = clock

    @staticmethod
    def key(username: str, lookup_url: str) -> str:
        raw = f"{lookup_url.strip().rstrip('/').lower()}\0{username.strip().lower()}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
            return {}
        zones = data.get("zones")
        return zones if isinstance(zones, dict) else {}

    def get(self, username: str, lookup_url: str) -> str | None:
        """The cached base URL, or ``None`` when absent, expired or invalid."""
        entry = self._load().get(self.key(username, lookup_url))
        if not isinstance(entry, dict):
            return None
        url, stored = entry.get("apiUrl"), entry.get("storedAt")
        if not isinstance(url, str) or not isinstance(stored, (int, float)):
            return None
        age = self._clock() - float(stored)
        if age < 0 or age > self.ttl:
            return None
        try:
            return normalize_api_url(url)
        except AutotaskConfigError:
            return None

    def put(self, username: str, lookup_url: str, api_url: str) -> None:
        self._update(self.key(username, lookup_url), {"apiUrl": api_url, "storedAt": self._clock()})

    def _update(self, key: str, entry: Mapping[str, Any] | None) -> None:
        zones = self._load()
        now = self._clock()
        # Drop expired entries while we are at it, so the file stays small.
        zones = {
            k: v
            for k, v in zones.items()
            if isinstance(v, dict)
            and isinstance(v.get("storedAt"), (int, float))
            and 0 <= now - float(v["storedAt"]) <= self.ttl
        }
        if entry is None:
            zones.pop(key, None)
        else:
            zones[key] = dict(entry)
        payload = json.dumps({"format": _CACHE_FORMAT, "zones": zones}, indent=2, sort_keys=True)
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".zones-", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload + "\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            logger.debug("could not write the zone cache %s: %s", self.path, exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _is_html_not_found(status: int, headers: Mapping[str, str], body: bytes) -> bool:
    if status != 404:
        return False
    ctype = ""
    for k, v in headers.items():
        if k.lower() == "content-type":
            ctype = v.lower()
    return "html" in ctype or body.lstrip()[:1] == b"<"


def is_zone_mismatch(status: int, headers: Mapping[str, str], body: bytes) -> bool:
    """A response that means "this host is not (any more) the user's zone": 401 or an IIS
    HTML 404 (the route does not exist on this host)."""
    return status == 401 or _is_html_not_found(status, headers, body)


def is_dead_host(exc: BaseException | None) -> bool:
    """A transport failure that proves nothing reached the server (safe to resend anywhere):
    connection refused, DNS failure, connect timeout."""
    import httpx

    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))


@dataclass
class _ZoneState:
    cooldown_until: float = 0.0
    last_probe: list[tuple[str, str]] = field(default_factory=list)


class ZoneResolver:
    """Discovery logic shared by the sync and async clients (the I/O is passed in)."""

    def __init__(
        self,
        options: ZoneOptions,
        credentials: Credentials,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self._credentials = credentials
        self._clock = clock
        path = options.resolved_cache_path()
        self.cache = ZoneCache(path, ttl=options.cache_ttl) if path is not None else None
        self._state = _ZoneState()

    # -- helpers -----------------------------------------------------------------------------------

    @property
    def _username(self) -> str:
        return self._credentials.username

    def _scrub(self, text: str) -> str:
        return scrub_secrets(text, self._credentials.secret_values())

    def cached(self) -> str | None:
        if self.cache is None:
            return None
        return self.cache.get(self._username, self.options.lookup_url)

    def remember(self, api_url: str) -> None:
        if self.cache is not None:
            self.cache.put(self._username, self.options.lookup_url, api_url)

    def lookup_url(self) -> str:
        return zone_lookup_url(self._username, self.options.lookup_url)

    def accept_lookup(self, status: int, body: bytes) -> str:
        """The base URL from a lookup response (raises :class:`AutotaskConfigError` when the
        answer is unusable or would send credentials somewhere unsafe)."""
        try:
            url = api_url_from_zone_response(status, body)
        except AutotaskConfigError as exc:
            raise AutotaskConfigError(self._scrub(str(exc))) from None
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        lookup_scheme = urlsplit(self.options.lookup_url).scheme.lower()
        if lookup_scheme == "https" and parts.scheme == "http" and not _is_loopback(host):
            raise AutotaskConfigError(f"zone discovery answered a plain-http URL ({url}); refusing")
        if self.options.uses_generic_host and not (
            host == "autotask.net" or host.endswith(".autotask.net")
        ):
            raise AutotaskConfigError(
                f"zone discovery answered a host outside autotask.net ({host}); refusing to send "
                f"credentials there. Set api_url (or {ENV_API_URL}) if this is intended."
            )
        return url

    @staticmethod
    def lookup_unreachable(status: int, body: bytes) -> bool:
        """A lookup answer that says "the lookup service is down", not "no such user"."""
        if status >= 502:
            return True
        return status != 200 and body.strip()[:1] == b"<"

    def probe_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        headers.update(self._credentials.auth_headers())
        headers.pop("ImpersonationResourceId", None)
        return headers

    def cooling_down(self) -> bool:
        return self._clock() < self._state.cooldown_until

    def start_cooldown(self) -> None:
        self._state.cooldown_until = self._clock() + self.options.rediscover_cooldown

    def _unreachable_error(
        self, reason: str, probed: list[tuple[str, str]], *, transport: bool
    ) -> AutotaskConfigError | AutotaskConnectionError:
        detail = ""
        if probed:
            shown = ", ".join(f"{urlsplit(u).netloc}: {r}" for u, r in probed[:6])
            more = f" (+{len(probed) - 6} more)" if len(probed) > 6 else ""
            detail = (
                f"; probed {len(probed)} zone host(s), none accepted the credentials: {shown}{more}"
            )
        message = self._scrub(
            f"Autotask zone discovery failed: {reason}{detail}; set api_url (or {ENV_API_URL}) "
            "to your zone, e.g. 'https://webservices14.autotask.net/ATServicesRest/V1.0/'"
        )
        if transport:
            return AutotaskConnectionError(message, method="GET", url=self.options.lookup_url)
        return AutotaskConfigError(message)

    # -- sync --------------------------------------------------------------------------------------

    def _after_lookup(
        self, response: httpx.Response | None, error: Exception | None
    ) -> tuple[str | None, str, bool]:
        """``(url, reason, transport)`` of a zoneInformation lookup: the zone URL (remembered)
        when it answered, else why not and whether the transport failed (then probing starts)."""
        if response is None:
            detail = f"{type(error).__name__}: {self._scrub(str(error))}"
            return None, f"lookup unreachable ({detail})", True
        if not self.lookup_unreachable(response.status_code, response.content):
            url = self.accept_lookup(response.status_code, response.content)
            self.remember(url)
            logger.info("zone discovered: %s", url)
            return url, "", False
        return None, f"lookup answered HTTP {response.status_code}", False

    def discover(self, http: httpx.Client, *, fresh: bool = False) -> str:
        """The user's zone base URL: the cache (unless ``fresh``), else the lookup, else probing."""
        import httpx

        hit = None if fresh else self.cached()
        if hit is not None:
            logger.debug("zone from cache: %s", hit)
            return hit
        try:
            found = self._after_lookup(
                http.get(self.lookup_url(), timeout=self.options.probe_timeout), None
            )
        except httpx.RequestError as exc:
            found = self._after_lookup(None, exc)
        url, reason, transport = found
        return url or self._probe_sync(http, reason, transport=transport)

    def lookup(self, http: httpx.Client) -> str:
        """Only the ``zoneInformation`` lookup (no cache, no probing): the zone it answers now
        (remembered), else :class:`AutotaskConnectionError` / :class:`AutotaskConfigError`."""
        import httpx

        try:
            response = http.get(self.lookup_url(), timeout=self.options.probe_timeout)
        except httpx.RequestError as exc:
            return self._looked_up(None, exc)
        return self._looked_up(response, None)

    def _looked_up(self, response: httpx.Response | None, error: Exception | None) -> str:
        url, reason, transport = self._after_lookup(response, error)
        if url is None:
            raise self._unreachable_error(reason, [], transport=transport)
        return url

    def _probe_sync(self, http: httpx.Client, reason: str, *, transport: bool) -> str:
        import httpx

        targets = self.options.probe_base_urls()
        if not targets:
            raise self._unreachable_error(reason, [], transport=transport)
        headers = self.probe_headers()
        timeout = self.options.probe_timeout

        def probe(base: str) -> tuple[str, str, bool]:
            try:
                r = http.get(base + _PROBE_PATH, headers=headers, timeout=timeout)
            except httpx.RequestError as exc:
                return base, type(exc).__name__, False
            return base, f"HTTP {r.status_code}", r.status_code == 200

        probed: list[tuple[str, str]] = []
        logger.info("zone lookup failed (%s); probing %d zone hosts", reason, len(targets))
        winner: str | None = None
        pool = concurrent.futures.ThreadPoolExecutor(
            min(16, len(targets)), thread_name_prefix="py-autotask-zone-probe"
        )
        try:
            futures = [pool.submit(probe, base) for base in targets]
            for future in concurrent.futures.as_completed(futures):
                base, result, ok = future.result()
                if ok:
                    winner = base
                    break
                probed.append((base, result))
        finally:
            # Do not wait for slow hosts once a winner is known; queued probes are dropped.
            pool.shutdown(wait=winner is None, cancel_futures=True)
        if winner is None:
            raise self._unreachable_error(reason, probed, transport=transport)
        self.remember(winner)
        logger.info("zone found by probing: %s", winner)
        return winner

    # -- async -------------------------------------------------------------------------------------

    async def adiscover(self, http: httpx.AsyncClient, *, fresh: bool = False) -> str:
        """Async twin of :meth:`discover`."""
        import httpx

        hit = None if fresh else self.cached()
        if hit is not None:
            return hit
        try:
            found = self._after_lookup(
                await http.get(self.lookup_url(), timeout=self.options.probe_timeout), None
            )
        except httpx.RequestError as exc:
            found = self._after_lookup(None, exc)
        url, reason, transport = found
        return url or await self._probe_async(http, reason, transport=transport)

    async def alookup(self, http: httpx.AsyncClient) -> str:
        """Async twin of :meth:`lookup`."""
        import httpx

        try:
            response = await http.get(self.lookup_url(), timeout=self.options.probe_timeout)
        except httpx.RequestError as exc:
            return self._looked_up(None, exc)
        return self._looked_up(response, None)

    async def _probe_async(self, http: httpx.AsyncClient, reason: str, *, transport: bool) -> str:
        import asyncio

        import httpx

        targets = self.options.probe_base_urls()
        if not targets:
            raise self._unreachable_error(reason, [], transport=transport)
        headers = self.probe_headers()
        timeout = self.options.probe_timeout

        async def probe(base: str) -> tuple[str, str, bool]:
            try:
                r = await http.get(base + _PROBE_PATH, headers=headers, timeout=timeout)
            except httpx.RequestError as exc:
                return base, type(exc).__name__, False
            return base, f"HTTP {r.status_code}", r.status_code == 200

        logger.info("zone lookup failed (%s); probing %d zone hosts", reason, len(targets))
        tasks = [asyncio.ensure_future(probe(base)) for base in targets]
        probed: list[tuple[str, str]] = []
        winner: str | None = None
        try:
            for next_done in asyncio.as_completed(tasks):
                base, result, ok = await next_done
                if ok:
                    winner = base
                    break
                probed.append((base, result))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if winner is None:
            raise self._unreachable_error(reason, probed, transport=transport)
        self.remember(winner)
        logger.info("zone found by probing: %s", winner)
        return winner


def same_base(prepared_url: str, base_url: str | None) -> bool:
    """Whether a request URL was built on ``base_url`` (same origin and API root)."""
    return base_url is not None and prepared_url.lower().startswith(base_url.lower())
