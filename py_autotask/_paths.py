"""Output paths the user named, checked before any work and named in errors (no I/O beyond
``stat``/``access``).

An export or a sync that cannot write where it was told fails with one line naming the user's
path and what to do (:func:`not_writable`), never with the ``OSError`` of an internal file
(``<output>.export-state``, ``<database>.sync.lock``). :func:`check_writable` finds it out before
anything is read from Autotask or written to disk.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .exceptions import AutotaskConfigError

__all__ = ["WRITE_ERRNOS", "check_writable", "not_writable"]

#: ``OSError`` numbers that mean "this place cannot be written" (a usage error: choose another)
WRITE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EROFS})


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (as seen by ``lstat``: a dangling symlink
    exists)."""
    current = path
    while True:
        try:
            current.lstat()
            return current
        except NotADirectoryError:
            pass  # an ancestor is a file: keep walking up to it
        except OSError:
            pass
        if current.parent == current:
            return current
        current = current.parent


def not_writable(path: str | os.PathLike[str], exc: OSError | None = None) -> AutotaskConfigError:
    """The one-line error for an output ``path`` (as the user wrote it) that cannot be written,
    saying why (permission, a file where a folder should be, a read-only file system, a missing
    folder) and what to do."""
    target = Path(path)
    shown = os.fspath(path)
    blocker = _nearest_existing(target.parent)
    code = exc.errno if exc is not None else None
    if blocker.exists() and not blocker.is_dir():
        why = f"{blocker} is a file, not a folder; choose a path in a folder"
    elif code == errno.EROFS:
        why = "read-only file system; choose a writable place"
    elif code == errno.ENOENT:
        why = f"the folder {target.parent} does not exist; create it or choose another place"
    else:
        folder = blocker if blocker.is_dir() else target.parent
        why = (
            f"permission denied (this user cannot write in {folder}); choose a folder you can "
            "write to or change its permissions"
        )
    return AutotaskConfigError(f"cannot write {shown}: {why}")


def check_writable(path: str | os.PathLike[str], *, create_parents: bool = True) -> None:
    """Raise :func:`not_writable`'s error unless ``path`` (a file or folder to create or replace)
    can be written: its nearest existing ancestor must be a folder this user may write in (with
    ``create_parents=False`` the parent itself must exist)."""
    target = Path(path)
    parent = target.parent
    if not create_parents and not parent.is_dir():
        raise not_writable(path, FileNotFoundError(errno.ENOENT, "no such folder"))
    blocker = _nearest_existing(parent)
    if not blocker.is_dir():
        raise not_writable(path, NotADirectoryError(errno.ENOTDIR, "not a folder"))
    if not os.access(blocker, os.W_OK | os.X_OK):
        raise not_writable(path, PermissionError(errno.EACCES, "permission denied"))
