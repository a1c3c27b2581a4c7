"""Child process for the kill -9 test: a 2,000-row bulk create into the simulator at argv[1],
journaled at argv[2]. The parent kills it with SIGKILL part way through."""

from __future__ import annotations

import json
import sys

from py_autotask import AutotaskClient
from py_autotask.resilience import PacingConfig


def main() -> None:
    url, journal, creds, base = (
        sys.argv[1],
        sys.argv[2],
        json.loads(sys.argv[3]),
        json.loads(sys.argv[4]),
    )
    rows = [{"title": f"kill9 row {i}", **base} for i in range(1, 2001)]
    with AutotaskClient(**{**creds, "api_url": url}, pacing=PacingConfig(enabled=False)) as client:
        client.create_bulk_manager().bulk_create("Tickets", rows, journal=journal, batch_size=50)


if __name__ == "__main__":
    main()
