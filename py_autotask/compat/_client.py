"""The py-autotask 2.x surface of the clients, as a mixin of both shells.

``create(...)`` and ``from_env()`` construct a client (no warning: same behaviour); ``config=``
takes a 2.x :class:`~py_autotask.types.RequestConfig` (warns, maps it); ``client.entities`` is 2.x's
entity manager; unknown attribute names go through :func:`resolve_client_attribute`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from py_autotask_generated.entities import ATTRIBUTES

from .._warn import warn_deprecated
from ..exceptions import AutotaskConfigError
from ._names import resolve_client_attribute

if TYPE_CHECKING:
    from ..types import RequestConfig

__all__ = [
    "LegacyClientMixin",
    "LegacyEntityManager",
    "apply_request_config",
    "legacy_positional",
]

_C = TypeVar("_C", bound="LegacyClientMixin")

_COLLECTION_ATTRIBUTE = {collection: attr for attr, collection in ATTRIBUTES.items()}


def apply_request_config(
    client: Any, config: RequestConfig | None, timeout: float, retry_config: Any
) -> tuple[float, Any]:
    """Record a 2.x ``RequestConfig`` on ``client`` (``client.request_config``) and return the
    ``(timeout, retry_config)`` to use: its ``timeout``, and a
    :class:`py_autotask.resilience.RetryConfig` built from its retry settings unless
    ``retry_config`` was given explicitly."""
    client.request_config = config
    if config is None:
        return timeout, retry_config
    from ..types import RequestConfig

    if not isinstance(config, RequestConfig):
        raise AutotaskConfigError(
            f"config must be a py_autotask.types.RequestConfig, not {type(config).__name__}"
        )
    warn_deprecated(
        "RequestConfig is the py-autotask 2.x settings object; pass "
        f"timeout={config.timeout:g} and retry_config=py_autotask.resilience.RetryConfig("
        f"max_retries={config.max_retries}, base_delay={config.retry_delay:g}) instead "
        "(retries back off exponentially with jitter; retry_backoff is not used)"
    )
    if retry_config is None:
        from ..resilience import RetryConfig

        retry_config = RetryConfig(max_retries=config.max_retries, base_delay=config.retry_delay)
    return float(config.timeout), retry_config


def legacy_positional(
    username: Any, secret: Any, integration_code: Any, api_url: Any, config: Any
) -> tuple[Any, Any, Any, Any, Any]:
    """Unpack py-autotask 2.x's ``AutotaskClient(auth, config)`` (an ``AutotaskAuth`` and a
    ``RequestConfig`` in the places of ``username`` and ``secret``), with a DeprecationWarning;
    other arguments come back unchanged."""
    from ..auth import AutotaskAuth
    from ..types import RequestConfig

    if not isinstance(username, AutotaskAuth):
        return username, secret, integration_code, api_url, config
    if isinstance(secret, RequestConfig) and config is None:
        config, secret = secret, None
    if secret is not None or integration_code is not None:
        raise AutotaskConfigError("AutotaskClient(auth, config) takes no other credentials")
    creds = username.credentials
    warn_deprecated(
        "AutotaskClient(auth, config) is the py-autotask 2.x constructor; pass the credentials "
        "directly: AutotaskClient(username=..., secret=..., integration_code=..., api_url=...) "
        "or AutotaskClient.create(...)"
    )
    return creds.username, creds.secret, creds.integration_code, api_url or creds.api_url, config


class LegacyEntityManager:
    """2.x's ``client.entities``: ``client.entities.tickets``, ``client.entities.get_entity("Tickets")``."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get_entity(self, entity_name: str) -> Any:
        """The collection for any spelling Autotask or 2.x used (``"Tickets"``, ``"Account"``)."""
        attribute = _COLLECTION_ATTRIBUTE.get(entity_name)
        if attribute is not None:
            return getattr(self._client, attribute)
        return resolve_client_attribute(self._client, entity_name, owner="client")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"<LegacyEntityManager of {self._client!r}>"


class LegacyClientMixin:
    """2.x constructors and ``client.entities`` for both clients (legacy attribute names: the
    clients' ``__getattr__`` calls :func:`~py_autotask.compat._names.resolve_client_attribute`)."""

    @classmethod
    def create(
        cls: type[_C],
        credentials: Any = None,
        username: str | None = None,
        integration_code: str | None = None,
        secret: str | None = None,
        api_url: str | None = None,
        config: RequestConfig | None = None,
        **options: Any,
    ) -> _C:
        """A client from explicit credentials (the py-autotask 2.x constructor).

        Missing values fall back to ``AUTOTASK_USERNAME`` / ``AUTOTASK_INTEGRATION_CODE`` /
        ``AUTOTASK_SECRET`` / ``AUTOTASK_API_URL``; without an API URL the zone is discovered.
        ``credentials`` may be a 2.x ``AuthCredentials``-like object (``username``,
        ``integration_code``, ``secret``, ``api_url`` attributes). Other keyword arguments go to
        the constructor (``timeout=``, ``impersonation_resource_id=``, ...).
        """
        if isinstance(credentials, str):
            # create(username, integration_code, secret), as 2.x's README wrote it.
            username, integration_code, secret = credentials, username, integration_code
        elif credentials is not None:
            username = username or getattr(credentials, "username", None)
            integration_code = integration_code or getattr(credentials, "integration_code", None)
            secret = secret or getattr(credentials, "secret", None)
            api_url = api_url or getattr(credentials, "api_url", None)
        return cls(  # type: ignore[call-arg]
            username=username,
            secret=secret,
            integration_code=integration_code,
            api_url=api_url,
            config=config,
            **options,
        )

    @classmethod
    def from_env(cls: type[_C], **options: Any) -> _C:
        """A client configured from ``AUTOTASK_USERNAME``, ``AUTOTASK_INTEGRATION_CODE``,
        ``AUTOTASK_SECRET`` and (optionally) ``AUTOTASK_API_URL``."""
        return cls(**options)

    @property
    def entities(self) -> LegacyEntityManager:
        """py-autotask 2.x's entity manager; ``client.entities.tickets`` is ``client.tickets``."""
        return LegacyEntityManager(self)
