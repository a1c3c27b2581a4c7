"""The py-autotask error tree.

Every error raised by the client derives from :class:`AutotaskError`. Errors that come from an HTTP
response are :class:`AutotaskAPIError` subclasses, built by one factory
(:func:`py_autotask._core.error_from_response`) that classifies the response by status *and* body —
Autotask answers 500 for bad integration codes and validation failures, and may report a thread-limit
rejection (``Itgenatr005``) under a non-429 status.

``str(exc)`` always contains Autotask's own ``errors[]`` text verbatim plus a short hint. Credentials
(``UserName``, ``Secret``, ``ApiIntegrationCode``) never appear in messages, URLs or reprs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from ._validation import Problem

__all__ = [
    "AutotaskAPIError",
    "AutotaskAmbiguousWriteError",
    "AutotaskAuthError",
    "AutotaskBudgetExhaustedError",
    "AutotaskCircuitOpenError",
    "AutotaskConfigError",
    "AutotaskConnectionError",
    "AutotaskError",
    "AutotaskInputError",
    "AutotaskMethodNotAllowedError",
    "AutotaskNotFoundError",
    "AutotaskOperationNotSupportedError",
    "AutotaskPermissionError",
    "AutotaskRateLimitError",
    "AutotaskServerError",
    "AutotaskUnknownEntityError",
    "AutotaskValidationError",
]


def scrub_secrets(text: str, secrets: Sequence[str]) -> str:
    """Replace each secret (as is and URL-encoded) of 4+ characters in ``text`` by ``***``."""
    for value in secrets:
        if value and len(value) >= 4:
            for variant in {value, quote(value, safe=""), quote_plus(value)}:
                text = text.replace(variant, "***")
                if "%" in variant:
                    text = text.replace(variant.lower(), "***")
    return text


class AutotaskError(Exception):
    """Base class of every error raised by py-autotask."""


class AutotaskConfigError(AutotaskError, ValueError):
    """The client or the call is misconfigured: missing credentials, a bad ``api_url``, a missing
    parent id for a child route, an out-of-range ``MaxRecords``. Nothing was sent to Autotask."""


class AutotaskInputError(AutotaskError, ValueError):
    """Data given to a write (or a filter) is invalid for the entity; nothing was sent.

    Raised by client-side validation (``validation_config=``). ``problems`` lists every problem
    found, each with ``entity``, ``field`` and ``reason`` (which says what to do); ``str(exc)``
    shows them all.
    """

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        self.problems: list[Problem] = list(problems)
        self.message = message
        text = message
        if self.problems:
            text += "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(text)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message, self.problems))


class AutotaskOperationNotSupportedError(AutotaskError):
    """The entity does not support the requested operation (according to its spec)."""


class AutotaskConnectionError(AutotaskError):
    """The request never produced an HTTP response: DNS, TLS, connection reset, timeout."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class AutotaskAPIError(AutotaskError):
    """Autotask answered with a non-success HTTP status (or an unusable success body).

    Attributes:
        status_code: the HTTP status.
        errors: Autotask's ``errors[]`` strings, verbatim (empty when the body had none).
        message: a one-line summary (the joined ``errors[]``, or a snippet of a non-JSON body).
        method: the HTTP method of the failed request.
        url: the request URL, with credentials removed.
        hint: a short suggestion of what to do, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        errors: Sequence[str] = (),
        method: str = "",
        url: str = "",
        hint: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.errors: list[str] = list(errors)
        self.message = message
        self.method = method
        self.url = url
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.url}".strip()
        head = f"HTTP {self.status_code}" + (f" from {where}" if where else "")
        text = f"{head}: {self.message}" if self.message else head
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, errors={self.errors!r}, "
            f"method={self.method!r}, url={self.url!r})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor arguments: rebuild from the instance state so errors pickle
        # (multiprocessing, pytest-xdist) without losing their attributes.
        return (_restore_api_error, (type(self), dict(self.__dict__)))

    def _redact(self, secrets: Sequence[str]) -> None:
        """Replace every occurrence of a credential value in the error's texts by ``***``."""

        def scrub(text: str) -> str:
            return scrub_secrets(text, secrets)

        self.errors = [scrub(e) for e in self.errors]
        self.message = scrub(self.message)
        self.url = scrub(self.url)
        if self.hint:
            self.hint = scrub(self.hint)
        self.args = (self._render(),)


def _restore_api_error(cls: type[AutotaskAPIError], state: dict[str, object]) -> AutotaskAPIError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = (error._render(),)
    return error


class AutotaskAuthError(AutotaskAPIError):
    """401, or a 500 whose ``errors[]`` say the user name or integration code is invalid."""


class AutotaskPermissionError(AutotaskAPIError):
    """403: the API user's security level does not allow this."""


class AutotaskNotFoundError(AutotaskAPIError):
    """404: the route does not exist (IIS answers with an HTML page) or the record is gone."""


class AutotaskMethodNotAllowedError(AutotaskAPIError):
    """405: the URL exists but not for this HTTP method (e.g. PATCH on ``/{Entity}/{id}``)."""


class AutotaskValidationError(AutotaskAPIError):
    """400/500 whose ``errors[]`` describe a validation or business-rule failure. Not retryable."""


class AutotaskRateLimitError(AutotaskAPIError):
    """429, or any response whose body carries the thread-limit code ``Itgenatr005``.

    Attributes:
        retry_after: seconds from the ``Retry-After`` header, or ``None`` when absent.
        thread_limit: ``True`` when the body names the thread limit (``Itgenatr005`` /
            "thread threshold"), ``False`` for the hourly request threshold or an unspecific 429.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        errors: Sequence[str] = (),
        method: str = "",
        url: str = "",
        hint: str | None = None,
        retry_after: float | None = None,
        thread_limit: bool = False,
    ) -> None:
        self.retry_after = retry_after
        self.thread_limit = thread_limit
        super().__init__(
            message, status_code=status_code, errors=errors, method=method, url=url, hint=hint
        )


class AutotaskServerError(AutotaskAPIError):
    """Any other 5xx."""


class AutotaskBudgetExhaustedError(AutotaskRateLimitError):
    """The tenant's hourly request threshold is used up (a 429 without the thread-limit code, or
    ThresholdInformation at the configured stop level). ``retry_after`` is the estimated number of
    seconds until the rolling window has drained enough to continue."""


class AutotaskCircuitOpenError(AutotaskError):
    """The circuit breaker of this endpoint is open after repeated transient failures; the request
    was not sent. ``retry_after`` is the number of seconds until a probe request is allowed."""

    def __init__(self, message: str, *, endpoint: str = "", retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        return (_restore_plain_error, (type(self), self.args, dict(self.__dict__)))


class AutotaskAmbiguousWriteError(AutotaskError):
    """A create (POST) whose outcome is unknown: the request was sent, then the connection broke,
    timed out, or an intermediary answered 502/503/504 or an opaque 500. The record may or may not
    exist; it was NOT resent. Look it up (e.g. by a correlation value) before creating it again.

    Attributes: ``method``, ``url`` (credentials removed), ``entity``, ``operation``,
    ``status_code`` / ``errors`` when an HTTP answer was received (Autotask's text verbatim), and
    ``correlation_field`` / ``correlation_value`` when the create carried a correlation token.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        entity: str | None = None,
        operation: str | None = None,
        status_code: int | None = None,
        errors: Sequence[str] = (),
        correlation_field: str | None = None,
        correlation_value: str | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.entity = entity
        self.operation = operation
        self.status_code = status_code
        self.errors: list[str] = list(errors)
        # Set by the create path's reconciliation (py_autotask._reconcile): the field (or
        # ``udf:<name>``) and the per-create token written into it; search for the token to find
        # the record if it was created.
        self.correlation_field = correlation_field
        self.correlation_value = correlation_value

    def __reduce__(self) -> tuple[object, ...]:
        return (_restore_plain_error, (type(self), self.args, dict(self.__dict__)))


def _restore_plain_error(
    cls: type[AutotaskError], args: tuple[object, ...], state: dict[str, object]
) -> AutotaskError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class AutotaskUnknownEntityError(AutotaskConfigError, AttributeError):
    """A name looked up on a client is not an Autotask collection (for example one that
    py-autotask 2.x exposed but the REST API never had). An ``AttributeError`` too, so ``hasattr``
    and ``getattr(client, name, default)`` keep working.

    Attributes:
        name: the name that was looked up.
        suggestions: the nearest real collection attributes.
        alternative: what to use instead, when Autotask has a real alternative, else ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        suggestions: Sequence[str] = (),
        alternative: str | None = None,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.suggestions = list(suggestions)
        self.alternative = alternative
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        # ``name`` lives in AttributeError's C slot, not in __dict__; BaseException.__setstate__
        # sets every key of the state back with setattr.
        state = dict(self.__dict__, name=self.name)
        return (type(self), (self.message,), state)


#: py-autotask 2.x exception names -> their replacement (module ``__getattr__`` warns on access).
_RENAMED_2X: dict[str, tuple[str, type[AutotaskError]]] = {
    "AutotaskTimeoutError": ("AutotaskConnectionError", AutotaskConnectionError),
    "AutotaskZoneError": ("AutotaskConnectionError", AutotaskConnectionError),
    "AutotaskConfigurationError": ("AutotaskConfigError", AutotaskConfigError),
}


def __getattr__(name: str) -> type[AutotaskError]:
    renamed = _RENAMED_2X.get(name)
    if renamed is None:
        raise AttributeError(f"module 'py_autotask.exceptions' has no attribute {name!r}")
    from ._warn import warn_deprecated

    new_name, cls = renamed
    warn_deprecated(
        f"py_autotask.exceptions.{name} is a py-autotask 2.x name; use {new_name} "
        "(timeouts and zone failures are connection errors now)"
        if new_name == "AutotaskConnectionError"
        else f"py_autotask.exceptions.{name} is a py-autotask 2.x name; use {new_name}"
    )
    return cls
