"""Arrow arrays and scalars from Python values without importing pandas, and the export's pool.

pyarrow asks pandas whether each Python object it converts is a pandas object (``pa.array``,
``pa.scalar`` and every Python value passed to a compute function, NumPy arrays included), and the
first time it asks it imports pandas when pandas is installed: ~45 MB of memory and 0.3 s, a
third of an export's memory budget, for a question whose answer is always no here. So the export
builds its arrays and scalars from buffers (:func:`strings`, :func:`int64s`, :func:`text` ...)
and hands compute functions Arrow scalars, never Python values; ``pa.array`` is left to the
tolerant path that reads off-type values one by one.

:data:`POOL` is the system allocator, passed to the Arrow calls of the export's worker threads:
Arrow's default pool (mimalloc) keeps ~20 MB more resident per export, freed pages it holds per
thread for reuse.
"""

from __future__ import annotations

from array import array as _array
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Final

import pyarrow as pa

__all__ = [
    "POOL",
    "bools",
    "column",
    "empty_batch",
    "float64s",
    "indices",
    "int64s",
    "null",
    "scalar",
    "strings",
    "text",
]

POOL: Final = pa.system_memory_pool()


def _validity(values: Sequence[Any]) -> pa.Buffer | None:
    """The validity bitmap of ``values`` (None is null), or None when nothing is null."""
    if None not in values:
        return None
    bits = bytearray((len(values) + 7) // 8)
    for i, v in enumerate(values):
        if v is not None:
            bits[i >> 3] |= 1 << (i & 7)
    return pa.py_buffer(bytes(bits))


def strings(values: Sequence[str | None]) -> pa.Array:
    """A string array of ``values`` (None is null)."""
    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = _array("i", [0])
    total = 0
    for b in encoded:
        total += len(b)
        offsets.append(total)
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [_validity(values), pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(encoded))],
    )


def int64s(values: Sequence[int | None]) -> pa.Array:
    """An int64 array of ``values`` (None is null)."""
    data = _array("q", [0 if v is None else v for v in values])
    return pa.Array.from_buffers(
        pa.int64(), len(values), [_validity(values), pa.py_buffer(data.tobytes())]
    )


def float64s(values: Sequence[float | int | None]) -> pa.Array:
    """A float64 array of ``values`` (None is null)."""
    data = _array("d", [0.0 if v is None else float(v) for v in values])
    return pa.Array.from_buffers(
        pa.float64(), len(values), [_validity(values), pa.py_buffer(data.tobytes())]
    )


def bools(values: Sequence[bool | None]) -> pa.Array:
    """A bool array of ``values`` (None is null)."""
    bits = bytearray((len(values) + 7) // 8)
    for i, v in enumerate(values):
        if v:
            bits[i >> 3] |= 1 << (i & 7)
    return pa.Array.from_buffers(
        pa.bool_(), len(values), [_validity(values), pa.py_buffer(bytes(bits))]
    )


_BUILDERS: Final[dict[pa.DataType, Callable[[Sequence[Any]], pa.Array]]] = {
    pa.string(): strings,
    pa.int64(): int64s,
    pa.float64(): float64s,
    pa.bool_(): bools,
}


def column(values: Sequence[Any], type: pa.DataType) -> pa.Array:
    """``pa.array(values, type)`` for values that are all of ``type``'s Python type or None
    (str, int, int or float, bool); other types go through ``pa.array``."""
    build = _BUILDERS.get(type)
    return build(values) if build is not None else pa.array(values, type)


def indices(start: int, stop: int, step: int = 1) -> pa.Array:
    """int64 ``start, start + step, ... < stop`` (``pa.array(range(...))``)."""
    data = _array("q", range(start, stop, step))
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data.tobytes())])


@lru_cache(maxsize=256)
def scalar(value: Any, type: pa.DataType) -> pa.Scalar:
    """``pa.scalar(value, type)`` (cached: the export's constants)."""
    if value is None:
        return pa.nulls(1, type)[0]
    return column([value], type)[0]


def text(value: str) -> pa.Scalar:
    """A string scalar (``scalar(value, pa.string())``)."""
    return scalar(value, pa.string())


def null(type: pa.DataType) -> pa.Scalar:
    """The null scalar of ``type``."""
    return scalar(None, type)


def empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    """A record batch of ``schema`` without rows."""
    return pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)
