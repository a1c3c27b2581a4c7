"""Ways to start the simulator and the configuration switches for UNCONFIRMED behaviour."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sim_helpers import ALL_ROWS, api_client, errors_of

from py_autotask.simulator import SchemasNotFoundError, Simulator
from tests._serve import served


def test_missing_schemas_dir_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SchemasNotFoundError, match="schemas_dir"):
        Simulator(tmp_path / "nowhere")


def test_cli_serve_prints_url_and_credentials() -> None:
    with served(
        *("py_autotask.simulator", "serve", "--port", "0"),
        *("--profile", "none", "--latency", "1ms"),
    ) as (url, creds):
        assert url.endswith("/ATServicesRest/V1.0/")
        assert set(creds) == {"UserName", "Secret", "ApiIntegrationCode"}
        r = httpx.get(url + "ThresholdInformation", headers=creds, timeout=10)
        assert r.status_code == 200 and r.json()["externalRequestThreshold"] == 10_000
        faults = httpx.get(url.split("/ATServicesRest")[0] + "/_sim/faults").json()
        assert faults[0]["effect"] == {"type": "latency", "dist": "fixed", "seconds": 0.001}


def test_switches_for_unconfirmed_behaviour() -> None:
    with (
        Simulator(
            profile="tiny",
            missing_item_status=404,
            html_not_found=True,
            validation_status=400,
            max_or_conditions=2,
        ) as sim,
        api_client(sim) as c,
    ):
        assert c.get("Tickets/987654").status_code == 404
        page = c.get("NoSuchEntity/1")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        r = c.post(
            "Tickets/query", json={"filter": [{"op": "or", "items": [ALL_ROWS["filter"][0]] * 3}]}
        )
        assert r.status_code == 400 and "2 or fewer 'OR' conditions" in errors_of(r)[0]
