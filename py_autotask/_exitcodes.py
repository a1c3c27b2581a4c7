"""The documented exit codes of ``py-autotask``, defined once.

The CLI exits with them, and results that stand for a whole job carry one (``BulkResult.exit_code``,
``SqlPushResult.exit_code``), so a script gets the same number from the Python API and the command
line. Core layer: imports nothing from the rest of the package.
"""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    """``0`` ok, ``1`` error, ``2`` usage, ``3`` auth, ``4`` rate limit, ``5`` partial, ``6`` locked,
    ``7`` unhealthy."""

    #: everything worked
    OK = 0
    #: an error that is none of the below (the API failed, a file could not be written, ...)
    ERROR = 1
    #: bad argument, bad filter expression, unknown entity or field, existing output: nothing sent
    USAGE = 2
    #: authentication, permission or missing credentials
    AUTH = 3
    #: rate limit or hourly request budget exhausted (the job is resumable)
    RATE = 4
    #: partial failure: some rows or entities failed, the mass-deletion guard held, an export did
    #: not match its count
    PARTIAL = 5
    #: another sync holds the database's sync lock (nothing was synced)
    LOCKED = 6
    #: ``health``: a check is unhealthy (or degraded, with ``--fail-on degraded``)
    UNHEALTHY = 7
