"""DeprecationWarnings pointed at the caller's line, not at py-autotask's internals."""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn_deprecated"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _internal(filename: str) -> bool:
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR) or (os.sep + "py_autotask_generated" + os.sep) in path


def warn_deprecated(message: str) -> None:
    """Emit a :class:`DeprecationWarning` attributed to the first frame outside py-autotask."""
    level = 2  # 1 is this function, 2 its caller
    frame = sys._getframe(1)
    while frame is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, DeprecationWarning, stacklevel=level)
