"""Private files: what the tool keeps for itself is readable by its owner only.

Bulk journals (every row's full body), export work folders (staged rows, checkpoints) and lock
files are created ``0600`` in folders the tool creates ``0700``. A folder that already exists is
never changed (it is the user's). Outputs the user asked for (export files, failure CSVs,
databases) are not made here: they follow the umask like any file a program writes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "private_dir", "private_file"]

PRIVATE_DIR_MODE: Final = 0o700
PRIVATE_FILE_MODE: Final = 0o600


def private_dir(path: str | os.PathLike[str], *, parents_private: bool = True) -> Path:
    """Make ``path`` (and its missing parents) a folder; each folder made here is ``0700``
    (``parents_private=False``: only ``path`` itself, its new parents follow the umask). Folders
    that exist are left as they are."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        private = parents_private or folder == path
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE if private else 0o777)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs
        if private:
            os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is narrowed by the umask only
    if not path.is_dir():
        path.mkdir()  # raises what the OS says (a file in the way)
    return path


def private_file(path: str | os.PathLike[str], *, truncate: bool = False) -> Path:
    """Create ``path`` empty with mode ``0600`` if it does not exist (``truncate``: empty it
    otherwise too); an existing file keeps its mode. Writers that open the path afterwards
    (SQLite, Arrow) keep the mode, and SQLite gives its ``-wal``/``-shm`` files the same one."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0)
    os.close(os.open(path, flags, PRIVATE_FILE_MODE))
    return Path(path)
