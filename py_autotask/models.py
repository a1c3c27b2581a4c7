"""Typed models and params for every Autotask collection: ``from py_autotask.models import Ticket``.

The classes are generated from ``schemas/`` into ``py_autotask_generated.models``; this module is
their public home. Names resolve lazily, so importing it costs nothing until a model is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import py_autotask_generated.models as _generated

if TYPE_CHECKING:
    from py_autotask_generated.models import *  # noqa: F403

__all__ = list(_generated.__all__)


def __getattr__(name: str) -> Any:
    try:
        return getattr(_generated, name)
    except AttributeError:
        raise AttributeError(f"module 'py_autotask.models' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(__all__)
