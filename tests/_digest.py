"""Comparing big tables without holding them: one digest per normalised row."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any


def row_digest(row: Mapping[str, Any]) -> bytes:
    """A digest equal for two rows exactly when they are equal (``==``) as normalised rows: the
    repr of every (column, value), so 1, 1.0, True and "1" differ, as the normalised kinds do;
    -0.0 is 0.0 and a NaN never equals anything, as with ``==``."""
    parts = []
    for k in sorted(row):
        v = row[k]
        if type(v) is float:
            if v != v:
                v = ("nan", os.urandom(16))
            elif v == 0:
                v = 0.0
        parts.append((k, v))
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()
