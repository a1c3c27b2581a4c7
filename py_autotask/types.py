"""py-autotask 2.x settings types kept for existing code.

``RequestConfig`` is accepted by ``AutotaskClient(config=...)`` / ``AutotaskClient.create(config=...)``
and mapped onto the client's ``timeout`` and :class:`py_autotask.resilience.RetryConfig`, with a
:class:`DeprecationWarning` naming those.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuthCredentials", "RequestConfig"]


class RequestConfig(BaseModel):
    """HTTP settings of py-autotask 2.x (deprecated; see ``docs/migration-2x.md``).

    Attributes:
        timeout: request timeout in seconds -> the client's ``timeout``.
        max_retries: retry attempts -> ``RetryConfig.max_retries``.
        retry_delay: base retry delay in seconds -> ``RetryConfig.base_delay``.
        retry_backoff: backoff multiplier; the new retry layer backs off exponentially (x2) with
            jitter, so this value is kept for reference only.
    """

    model_config = ConfigDict(frozen=True)

    timeout: float = Field(30, gt=0, description="Request timeout in seconds")
    max_retries: int = Field(3, ge=0, description="Maximum retry attempts")
    retry_delay: float = Field(1.0, ge=0, description="Base retry delay in seconds")
    retry_backoff: float = Field(2.0, ge=0, description="Retry backoff multiplier")


class AuthCredentials(BaseModel):
    """py-autotask 2.x credentials object (deprecated): pass ``username=``, ``secret=``,
    ``integration_code=``, ``api_url=`` to the client instead."""

    model_config = ConfigDict(frozen=True)

    username: str
    integration_code: str
    secret: str
    api_url: str | None = None

    def __repr__(self) -> str:
        return "AuthCredentials(username=..., integration_code=***, secret=***)"

    __str__ = __repr__
