"""Value types shared by the generated models and the runtime."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator
from typing_extensions import TypedDict

__all__ = ["UdfValue", "UtcDateTime", "as_utc"]


def as_utc(value: datetime) -> datetime:
    """Autotask returns UTC datetimes without an offset (``2016-03-30T13:10:35.563``).

    Naive values are therefore UTC; aware values are converted to UTC.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


#: A datetime field of an Autotask record: always timezone-aware UTC after validation.
UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]


class UdfValue(TypedDict):
    """A user-defined field value in a create or update body: ``{"name": ..., "value": ...}``."""

    name: str
    value: str | None
