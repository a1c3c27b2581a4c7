"""``simulator serve`` in a child process, for the tests of the command line that starts it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def served(*argv: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Run ``python -m <argv>`` (a ``serve`` command) and yield the base URL and the credential
    headers (UserName, Secret, ApiIntegrationCode) from the four lines it prints; the server is
    stopped afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]  # URL, UserName, Secret, code
        assert all(": " in line for line in lines), (lines, proc.stderr and proc.stderr.read())
        url = lines[0].split(": ", 1)[1].strip()
        yield url, dict(line.strip().split(": ", 1) for line in lines[1:])
    finally:
        proc.terminate()
        proc.wait(15)
