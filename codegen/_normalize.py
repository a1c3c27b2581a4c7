"""Normalisation shared by ``codegen bootstrap`` and ``codegen pull``.

Both steps write the same ``schemas/`` format; the rules that make a metadata response
reviewable and tenant-neutral live here so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def picklist_sort_key(value: dict[str, Any]) -> tuple[int, str]:
    """Picklist values are ordered by (``sortOrder``, ``value``)."""
    return (value.get("sortOrder") or 0, str(value.get("value")))


def is_tenant_label(value: dict[str, Any]) -> bool:
    """Whether a picklist value's label is the tenant's own (not a system value's)."""
    return not value.get("isSystem")


def neutral_label(value: dict[str, Any], field_name: str) -> str:
    """The neutral label that replaces a tenant's own: ``f"{field_name} {value}"``."""
    return f"{field_name} {value['value']}"


def neutral_picklist(
    values: Iterable[dict[str, Any]] | None, field_name: str, *, keep_labels: bool = False
) -> list[dict[str, Any]] | None:
    """Sort picklist values; replace tenant-specific labels with ``f"{field_name} {value}"``.

    Labels of system values (``isSystem: true``) are Autotask's own and are kept. Values, order,
    parents and flags are always kept. ``keep_labels=True`` keeps every label verbatim.
    """
    if values is None:
        return None
    out = []
    for pv in values:
        item = dict(pv)
        if not keep_labels and is_tenant_label(item):
            item["label"] = neutral_label(item, field_name)
        out.append(item)
    out.sort(key=picklist_sort_key)
    return out
