"""py-autotask 2.x ``AutotaskAuth``, kept so ``AutotaskClient(auth, config)`` keeps working.

The client now resolves the zone and sends the credentials itself; ``AutotaskAuth`` only carries
the :class:`~py_autotask.types.AuthCredentials` (``AutotaskClient(auth)`` warns and unpacks them).
"""

from __future__ import annotations

from .types import AuthCredentials

__all__ = ["AutotaskAuth"]


class AutotaskAuth:
    """Holder of 2.x :class:`~py_autotask.types.AuthCredentials` (deprecated)."""

    def __init__(self, credentials: AuthCredentials) -> None:
        self.credentials = credentials

    def __repr__(self) -> str:
        return "AutotaskAuth(credentials=...)"
