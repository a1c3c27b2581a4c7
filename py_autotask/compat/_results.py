"""Return values of py-autotask 2.x calls that changed shape."""

from __future__ import annotations

from ._warn import warn_deprecated

__all__ = ["CreatedId"]


class CreatedId(int):
    """The id ``create()`` returns: a plain ``int`` to the new API. 2.x returned a
    ``CreateResponse``; its ``.item_id`` (and ``["itemId"]``) still work, with a warning."""

    __slots__ = ()

    @property
    def item_id(self) -> int:
        warn_deprecated(
            "create() returns the new record's id as an int (py-autotask 2.x returned a "
            "CreateResponse); use the value itself instead of .item_id"
        )
        return int(self)

    def __getitem__(self, key: str) -> int:
        if key != "itemId":
            raise KeyError(key)
        warn_deprecated(
            "create() returns the new record's id as an int (py-autotask 2.x returned a "
            "CreateResponse); use the value itself instead of ['itemId']"
        )
        return int(self)
