"""``ValidationConfig`` and the ``FieldValidator`` registry of custom per-field validators."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, ClassVar, Final

from ..exceptions import AutotaskConfigError

__all__ = ["FieldValidator", "ValidationConfig", "ValidationContext", "ValidatorFunc"]

#: A custom validator: takes the (already converted) value, returns the value to send (the same or
#: a normalised one) or raises ``ValueError`` / ``TypeError`` with the reason. A validator with two
#: positional parameters also receives a :class:`ValidationContext`.
ValidatorFunc = Callable[..., Any]

ANY_ENTITY: Final = "*"


@dataclass(frozen=True, slots=True)
class ValidationContext:
    """What a two-argument custom validator is told about the value it checks."""

    entity: str  # collection name, e.g. "Tickets"
    field: str  # API field name, e.g. "title"
    operation: str  # create | update | replace
    body: Mapping[str, Any]  # the whole (converted) body


def _entity_key(entity: str | None) -> str:
    if entity is None or entity == ANY_ENTITY:
        return ANY_ENTITY
    from .._registry import spec_for

    try:
        return spec_for(entity).name
    except AutotaskConfigError as exc:
        raise AutotaskConfigError(f"custom validator for {exc}") from None


def _arity(func: ValidatorFunc) -> int:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return 1
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 2
    return 2 if len(positional) >= 2 else 1


@dataclass(frozen=True, slots=True)
class _Registered:
    func: ValidatorFunc
    arity: int

    def __call__(self, value: Any, context: ValidationContext) -> Any:
        return self.func(value, context) if self.arity == 2 else self.func(value)


class FieldValidator:
    """Registry of custom validators, keyed by (entity, field).

    >>> @FieldValidator.register("Tickets", "title")
    ... def no_shouting(value):
    ...     if value.isupper():
    ...         raise ValueError("title must not be all capitals")
    ...     return value

    ``FieldValidator.register("email")`` (one argument) applies to that field of every entity.
    Registered validators run for every client whose :class:`ValidationConfig` has
    ``use_registered_validators=True`` (the default), after type conversion and before the
    length and picklist checks.
    """

    _registry: ClassVar[dict[tuple[str, str], list[_Registered]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def register(
        cls, entity_or_field: str, field: str | None = None
    ) -> Callable[[ValidatorFunc], ValidatorFunc]:
        """Decorator: ``register("Tickets", "title")`` or ``register("email")`` (any entity)."""
        if field is None:
            entity_key, field_name = ANY_ENTITY, entity_or_field
        else:
            entity_key, field_name = _entity_key(entity_or_field), field

        def decorator(func: ValidatorFunc) -> ValidatorFunc:
            if not callable(func):
                raise AutotaskConfigError(f"a validator must be callable, not {func!r}")
            with cls._lock:
                cls._registry.setdefault((entity_key, field_name.lower()), []).append(
                    _Registered(func, _arity(func))
                )
            return func

        return decorator

    @classmethod
    def unregister(cls, func: ValidatorFunc) -> None:
        """Remove ``func`` wherever it is registered."""
        with cls._lock:
            for key in list(cls._registry):
                kept = [r for r in cls._registry[key] if r.func is not func]
                if kept:
                    cls._registry[key] = kept
                else:
                    del cls._registry[key]

    @classmethod
    def clear(cls) -> None:
        """Remove every registered validator."""
        with cls._lock:
            cls._registry.clear()

    @classmethod
    def _for(cls, entity: str, field: str) -> list[_Registered]:
        with cls._lock:
            return [
                *cls._registry.get((entity, field.lower()), ()),
                *cls._registry.get((ANY_ENTITY, field.lower()), ()),
            ]


@dataclass(frozen=True)
class ValidationConfig:
    """Client-side checks and conversions applied to create/update/replace bodies.

    Args:
        strict_types: reject values of the wrong type instead of converting them.
        auto_convert: ``"1"`` -> ``1`` for integer fields, ``"true"`` -> ``True`` for booleans,
            numbers -> text for string fields (ignored when ``strict_types``). Datetimes are
            always sent in Autotask's UTC wire format ``YYYY-MM-DDTHH:MM:SS.fffZ``; date-only
            values (``"2024-05-31"``) are sent as given.
        validate_required: required fields must be present on create/replace and not null.
        validate_lengths: strings must fit the field's maximum length.
        custom_validators: callables keyed by field name (any entity) or ``"Entity.field"``.
        picklist_labels: accept picklist labels (``status="Complete"``) and resolve them to the
            tenant's value (also in query filters); unknown or ambiguous labels are errors.
        validate_picklists: integer picklist values must be active values of the tenant.
        local_timezone: zone (IANA name or ``tzinfo``) for ``client.validation.localize()``:
            read datetimes converted from UTC for display. Writes are always UTC.
        reject_unknown_fields: fields the entity does not have are errors (otherwise sent as is).
        use_registered_validators: also run validators registered on :class:`FieldValidator`.
    """

    strict_types: bool = False
    auto_convert: bool = True
    validate_required: bool = True
    validate_lengths: bool = True
    custom_validators: Mapping[str, ValidatorFunc] = field(default_factory=dict)
    picklist_labels: bool = True
    validate_picklists: bool = True
    local_timezone: str | tzinfo | None = None
    reject_unknown_fields: bool = True
    use_registered_validators: bool = True
    _validators: dict[tuple[str, str], list[_Registered]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _tz: tzinfo | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        for key, func in self.custom_validators.items():
            if not callable(func):
                raise AutotaskConfigError(f"custom_validators[{key!r}] must be callable")
            entity, _, fld = key.rpartition(".")
            entity_key = _entity_key(entity or None)
            self._validators.setdefault((entity_key, fld.lower()), []).append(
                _Registered(func, _arity(func))
            )
        tz = self.local_timezone
        if isinstance(tz, str):
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                tz = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise AutotaskConfigError(
                    f"local_timezone {self.local_timezone!r} is not a known IANA time zone"
                ) from exc
        object.__setattr__(self, "_tz", tz)

    @property
    def timezone(self) -> tzinfo | None:
        """``local_timezone`` as a ``tzinfo`` (None when not set)."""
        return self._tz

    def validators_for(self, entity: str, field: str) -> Iterator[_Registered]:
        """Custom validators of one field: config ones first, then registered ones."""
        yield from self._validators.get((entity, field.lower()), ())
        yield from self._validators.get((ANY_ENTITY, field.lower()), ())
        if self.use_registered_validators:
            yield from FieldValidator._for(entity, field)
