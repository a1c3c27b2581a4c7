"""A simulator whose tenant metadata carries the webhook field catalogs.

The metadata snapshot in ``schemas/`` has no ``fieldID`` picklist on ``<X>WebhookFields`` (the
n8n-derived catalog was left out of the sources); a live tenant returns one from
``TicketWebhookFields/entityInformation/fields``. This copy of ``schemas/`` adds one for Tickets
(ids as the reference lists them: 2 Title, 5 Status, 6 Priority, 11 AssignedResourceID,
14 QueueID), a ``udfFieldID`` picklist naming two of the Tickets UDFs of the snapshot, and a
Companies ``fieldID`` picklist naming one field the Companies metadata flags as not supported.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from py_autotask import AutotaskClient
from py_autotask.simulator import Simulator

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

TICKET_FIELDS = {2: "Title", 5: "Status", 6: "Priority", 11: "AssignedResourceID", 14: "QueueID"}
TICKET_UDFS = {101: "Ext URL", 102: "Agreed Start Date"}
#: Companies fields flag isSupportedWebhookField; createDate is flagged false
COMPANY_FIELDS = {1: "CompanyName", 2: "Phone", 3: "CreateDate"}


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


def build_webhook_schemas(root: Path) -> Path:
    """The copy of ``schemas/`` under ``root`` (entity folders symlinked, two edited)."""
    shutil.copy(SCHEMAS / "index.json", root / "index.json")
    (root / "entities").mkdir()
    edited = {"TicketWebhookFields": ("fieldID", TICKET_FIELDS)}
    edited["TicketWebhookUdfFields"] = ("udfFieldID", TICKET_UDFS)
    edited["CompanyWebhookFields"] = ("fieldID", COMPANY_FIELDS)
    for folder in (SCHEMAS / "entities").iterdir():
        target = root / "entities" / folder.name
        if folder.name in edited:
            shutil.copytree(folder, target)
            _with_picklist(target, *edited[folder.name])
        else:
            target.symlink_to(folder, target_is_directory=True)
    return root


def client_for(sim: Simulator, **options: Any) -> AutotaskClient:
    c = sim.credentials
    return AutotaskClient(
        c["username"], c["secret"], c["integration_code"], api_url=sim.url, **options
    )
