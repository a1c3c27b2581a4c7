"""Credentials, ``api_url`` normalisation and zone discovery.

Credentials come from constructor arguments first, then from the environment
(``AUTOTASK_USERNAME``, ``AUTOTASK_SECRET``, ``AUTOTASK_INTEGRATION_CODE``, ``AUTOTASK_API_URL``).
The user name, secret and integration code never appear in ``repr``/``str``, logs or exceptions.

When no ``api_url`` is known the zone is discovered with an unauthenticated
``GET https://webservices.autotask.net/ATServicesRest/V1.0/zoneInformation?user=<username>``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from .exceptions import AutotaskConfigError, AutotaskConnectionError, scrub_secrets

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ENV_API_URL",
    "ENV_INTEGRATION_CODE",
    "ENV_SECRET",
    "ENV_USERNAME",
    "ZONE_LOOKUP_URL",
    "Credentials",
    "adiscover_api_url",
    "api_url_from_zone_response",
    "discover_api_url",
    "mask_username",
    "normalize_api_url",
    "user_cache_dir",
    "zone_lookup_url",
]

ENV_USERNAME = "AUTOTASK_USERNAME"
ENV_SECRET = "AUTOTASK_SECRET"
ENV_INTEGRATION_CODE = "AUTOTASK_INTEGRATION_CODE"
ENV_API_URL = "AUTOTASK_API_URL"

#: Zone discovery endpoint; works without credentials or tracking identifier.
ZONE_LOOKUP_URL = "https://webservices.autotask.net/ATServicesRest/V1.0/zoneInformation"

_API_ROOT = "/ATServicesRest/V1.0"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/py-autotask``, else ``~/.cache/py-autotask``: where the zone cache and the
    default request limiter live."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "py-autotask"


def mask_username(username: str) -> str:
    """``'jane.doe@example.com'`` -> ``'j***@example.com'``; without a domain -> ``'j***'``."""
    if not username:
        return "<empty>"
    local, sep, domain = username.partition("@")
    return f"{local[:1]}***{sep}{domain}"


def _is_local_host(host: str) -> bool:
    return host in _LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def normalize_api_url(url: str) -> str:
    """Return the REST base URL ``<scheme>://<host>[:port][/prefix]/ATServicesRest/V1.0/``.

    Accepts a bare host (``webservices14.autotask.net``), a host URL, ``.../ATServicesRest`` or
    ``.../ATServicesRest/V1.0`` in any letter case, with or without a trailing slash. ``https`` is
    required except for local simulator hosts (``localhost``, ``127.0.0.1``, ``::1``).
    """
    raw = url.strip()
    if not raw:
        raise AutotaskConfigError("api_url is empty")
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AutotaskConfigError(f"api_url must start with https:// (got scheme {scheme!r})")
    host = (parts.hostname or "").lower()
    if not host:
        raise AutotaskConfigError(f"api_url has no host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise AutotaskConfigError("api_url must not contain user info; pass credentials separately")
    if parts.query or parts.fragment:
        raise AutotaskConfigError(f"api_url must not contain a query string or fragment: {url!r}")
    if scheme == "http" and not _is_local_host(host):
        raise AutotaskConfigError(
            f"api_url {url!r} uses plain http; Autotask requires https "
            "(http is only allowed for a local simulator on localhost/127.0.0.1)"
        )
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"

    path = parts.path.rstrip("/")
    marker = path.lower().find("/atservicesrest")
    if marker >= 0:
        rest = path[marker + len("/atservicesrest") :].lower()
        if rest not in ("", "/v1.0"):
            raise AutotaskConfigError(
                f"api_url {url!r} points below the API root; pass the base ending in "
                "/ATServicesRest/V1.0 (entity paths are added by the client)"
            )
        prefix = path[:marker]
    else:
        prefix = path
    return f"{scheme}://{netloc}{prefix}{_API_ROOT}/"


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """API user credentials plus the (normalised) REST base URL, when known.

    ``repr``/``str`` mask the user name and hide the secret and integration code.
    """

    username: str
    secret: str
    integration_code: str
    api_url: str | None = None
    impersonation_resource_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("username", "secret", "integration_code"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise AutotaskConfigError(f"{name} must be a non-empty string")
        if self.api_url is not None:
            object.__setattr__(self, "api_url", normalize_api_url(self.api_url))
        rid = self.impersonation_resource_id
        if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int) or rid <= 0):
            raise AutotaskConfigError("impersonation_resource_id must be a positive integer")

    @classmethod
    def resolve(
        cls,
        username: str | None = None,
        secret: str | None = None,
        integration_code: str | None = None,
        api_url: str | None = None,
        *,
        impersonation_resource_id: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Build credentials from arguments, falling back to ``AUTOTASK_*`` environment variables.

        Raises :class:`AutotaskConfigError` naming every missing value and where to set it.
        """
        environ: Mapping[str, str] = os.environ if env is None else env

        def from_env(name: str) -> str | None:
            # Values read from files/secrets managers often carry a trailing newline.
            return (environ.get(name) or "").strip() or None

        values = {
            "username": username or from_env(ENV_USERNAME),
            "secret": secret or from_env(ENV_SECRET),
            "integration_code": integration_code or from_env(ENV_INTEGRATION_CODE),
        }
        env_names = {
            "username": ENV_USERNAME,
            "secret": ENV_SECRET,
            "integration_code": ENV_INTEGRATION_CODE,
        }
        missing = [f"{name} (or env {env_names[name]})" for name, v in values.items() if not v]
        if missing:
            raise AutotaskConfigError(
                "missing Autotask credentials: " + ", ".join(missing) + ". Create an API user "
                "(security level 'API User (API-only)') and its API tracking identifier in Autotask."
            )
        url = api_url or from_env(ENV_API_URL)
        return cls(
            username=str(values["username"]),
            secret=str(values["secret"]),
            integration_code=str(values["integration_code"]),
            api_url=url,
            impersonation_resource_id=impersonation_resource_id,
        )

    def auth_headers(self) -> dict[str, str]:
        """The headers Autotask authenticates every call with."""
        headers = {
            "ApiIntegrationCode": self.integration_code,
            "UserName": self.username,
            "Secret": self.secret,
        }
        if self.impersonation_resource_id is not None:
            headers["ImpersonationResourceId"] = str(self.impersonation_resource_id)
        return headers

    def secret_values(self) -> tuple[str, ...]:
        """Values that must be scrubbed from anything shown to a user."""
        return (self.secret, self.integration_code, self.username)

    def __repr__(self) -> str:
        return (
            f"Credentials(username={mask_username(self.username)!r}, secret='<hidden>', "
            f"integration_code='<hidden>', api_url={self.api_url!r}, "
            f"impersonation_resource_id={self.impersonation_resource_id!r})"
        )

    __str__ = __repr__


# --- zone discovery -------------------------------------------------------------------------------


def zone_lookup_url(username: str, lookup_url: str = ZONE_LOOKUP_URL) -> str:
    """The zone discovery URL for ``username``."""
    return f"{lookup_url}?{urlencode({'user': username})}"


def api_url_from_zone_response(status_code: int, body: bytes) -> str:
    """Turn a ``zoneInformation`` response into a normalised base URL.

    The response's ``url`` is the zone's ``.../ATServicesRest/`` root; the base is ``url + 'V1.0/'``.
    """
    fix = (
        f"set api_url (or {ENV_API_URL}) to your zone, e.g. "
        "'https://webservices14.autotask.net/ATServicesRest/V1.0/'"
    )
    data: Any = None
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    if status_code != 200 or not isinstance(data, dict) or not data.get("url"):
        errors = data.get("errors") if isinstance(data, dict) else None
        detail = "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else ""
        raise AutotaskConfigError(
            f"Autotask zone discovery failed (HTTP {status_code})"
            + (f": {detail}" if detail else "")
            + f"; {fix}"
        )
    zone_root = str(data["url"])
    return normalize_api_url(zone_root.rstrip("/") + "/V1.0")


def _zone_connection_error(
    exc: Exception, username: str, lookup_url: str
) -> AutotaskConnectionError:
    detail = scrub_secrets(str(exc), (username,))
    return AutotaskConnectionError(
        f"zone discovery failed: {type(exc).__name__}: {detail}; "
        f"set api_url (or {ENV_API_URL}) to skip it",
        method="GET",
        url=lookup_url,
    )


def discover_api_url(
    username: str, http: httpx.Client, *, lookup_url: str = ZONE_LOOKUP_URL
) -> str:
    """Look up the user's zone (no auth headers) and return its REST base URL."""
    import httpx

    try:
        response = http.get(zone_lookup_url(username, lookup_url))
    except httpx.RequestError as exc:
        raise _zone_connection_error(exc, username, lookup_url) from None
    return api_url_from_zone_response(response.status_code, response.content)


async def adiscover_api_url(
    username: str, http: httpx.AsyncClient, *, lookup_url: str = ZONE_LOOKUP_URL
) -> str:
    """Async twin of :func:`discover_api_url`."""
    import httpx

    try:
        response = await http.get(zone_lookup_url(username, lookup_url))
    except httpx.RequestError as exc:
        raise _zone_connection_error(exc, username, lookup_url) from None
    return api_url_from_zone_response(response.status_code, response.content)
