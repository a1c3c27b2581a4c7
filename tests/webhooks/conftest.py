"""A simulator whose tenant metadata carries the webhook field catalogs.

The metadata snapshot in ``schemas/`` has no ``fieldID`` picklist on ``<X>WebhookFields`` (the
n8n-derived catalog was left out of the sources); a live tenant returns one from
``TicketWebhookFields/entityInformation/fields``. This copy of ``schemas/`` adds one for Tickets
(ids as the reference lists them: 2 Title, 5 Status, 6 Priority, 11 AssignedResourceID,
14 QueueID) and a ``udfFieldID`` picklist naming two of the Tickets UDFs of the snapshot.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

TICKET_FIELDS = {2: "Title", 5: "Status", 6: "Priority", 11: "AssignedResourceID", 14: "QueueID"}
TICKET_UDFS = {101: "Ext URL", 102: "Agreed Start Date"}


def _with_picklist(folder: Path, field: str, values: dict[int, str]) -> None:
    path = folder / "fields.json"
    data = json.loads(path.read_text())
    for fld in data["fields"]:
        if fld["name"] == field:
            fld["isPickList"] = True
            fld["picklistValues"] = [
                {
                    "value": str(v),
                    "label": label,
                    "isActive": True,
                    "isDefaultValue": False,
                    "isSystem": True,
                    "sortOrder": i,
                    "parentValue": "",
                }
                for i, (v, label) in enumerate(values.items())
            ]
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


@pytest.fixture(scope="session")
def webhook_schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("webhook-schemas")
    shutil.copy(SCHEMAS / "index.json", root / "index.json")
    (root / "entities").mkdir()
    edited = {"TicketWebhookFields": ("fieldID", TICKET_FIELDS)}
    edited["TicketWebhookUdfFields"] = ("udfFieldID", TICKET_UDFS)
    for folder in (SCHEMAS / "entities").iterdir():
        target = root / "entities" / folder.name
        if folder.name in edited:
            shutil.copytree(folder, target)
            _with_picklist(target, *edited[folder.name])
        else:
            target.symlink_to(folder, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def sim(webhook_schemas: Path) -> Iterator[Simulator]:
    with Simulator(schemas_dir=webhook_schemas, seed=7, profile="tiny", hourly_threshold=0) as s:
        yield s


def client_for(sim: Simulator, **options: Any) -> AutotaskClient:
    c = sim.credentials
    return AutotaskClient(
        c["username"], c["secret"], c["integration_code"], api_url=sim.url, **options
    )


@pytest.fixture
def own_resource(sim: Simulator) -> int:
    """A seeded resource made the API user's own (its email set to the API user name, as Autotask API users have)."""
    with client_for(sim) as client:
        first = client.raw_request(
            "POST", "Resources/query", json={"filter": [{"op": "gt", "field": "id", "value": 0}]}
        )["items"][0]
        client.raw_request(
            "PATCH", "Resources", json={"id": first["id"], "email": sim.credentials["username"]}
        )
        return int(first["id"])
