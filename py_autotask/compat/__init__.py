"""Compatibility with py-autotask 2.x: legacy names, filter forms and settings, each converted
with a :class:`DeprecationWarning` that names the replacement. See ``docs/migration-2x.md``."""

from __future__ import annotations

from ._names import (
    NOT_REST_ENTITIES_2X,
    NOT_REST_ENTITIES_2X_SOURCE,
    NameResolution,
    resolve_client_attribute,
    resolve_legacy_name,
)

__all__ = [
    "NOT_REST_ENTITIES_2X",
    "NOT_REST_ENTITIES_2X_SOURCE",
    "NameResolution",
    "resolve_client_attribute",
    "resolve_legacy_name",
]
