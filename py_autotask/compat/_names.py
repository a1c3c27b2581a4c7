"""Resolution of collection names on the clients: real names, SOAP-era / 2.x aliases, and the
names py-autotask 2.x exposed that Autotask's REST API never had.

Real collection names and SOAP names come from the generated layer (``ATTRIBUTES``,
``SOAP_ENTITIES``, ``resolve_name``); nothing here lists entities. :data:`NOT_REST_ENTITIES_2X` is
a fact about py-autotask 2.x, not about Autotask: the entity-manager names 2.3.0 exposed that no
Autotask REST collection (or SOAP alias of one) matches, each with the real alternative where one
exists.

One function, :func:`resolve_client_attribute`, serves every client ``__getattr__``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from py_autotask_generated.entities import ATTRIBUTES, SOAP_ENTITIES, resolve_name

from .._warn import warn_deprecated
from ..exceptions import AutotaskUnknownEntityError

__all__ = [
    "NOT_REST_ENTITIES_2X",
    "NOT_REST_ENTITIES_2X_SOURCE",
    "REMOVED_CLIENT_METHODS_2X",
    "NameResolution",
    "resolve_client_attribute",
    "resolve_legacy_name",
]

#: Where :data:`NOT_REST_ENTITIES_2X` comes from.
NOT_REST_ENTITIES_2X_SOURCE: Final = (
    "py-autotask 2.3.0 from PyPI: py_autotask/entities/manager.py, the keys of "
    "EntityManager.ENTITY_CLASSES (194) and its properties (107), snake_cased as 2.x exposed them "
    "(client.entities.<name>), minus every name that resolves to a REST collection of "
    "schemas/ directly or as a SOAP-era/singular name. 50 names; the same count as the audit in "
    "/work/shared/reference/peers.md section a.1."
)

_RAW = "client.raw_request('GET', '{0}')"

#: 2.x name -> the real alternative (a sentence naming real collections or calls), or ``None`` when
#: Autotask has nothing like it. Collection attributes named here are checked against the generated
#: layer by tests/compat/test_names.py.
NOT_REST_ENTITIES_2X: Final[Mapping[str, str | None]] = {
    "analytics": "query the real records and aggregate them yourself, e.g. "
    "py_autotask.to_dataframe(client.tickets.query_all(...))",
    "api_usage_metrics": "API usage is reported by the ThresholdInformation endpoint: "
    + _RAW.format("ThresholdInformation"),
    "attachments": "attachments belong to a parent record: client.tickets.attachments(ticket_id), "
    "client.companies.attachments(company_id), ...; client.attachment_info lists them all",
    "audit_logs": "use client.ticket_history, client.deleted_ticket_logs, "
    "client.deleted_ticket_activity_logs or client.deleted_task_activity_logs",
    "automation_rules": None,
    "backup_configuration": None,
    "business_rules": None,
    "change_requests": "change requests are tickets (their ticketType); see client.tickets, "
    "client.change_request_links and client.ticket_change_request_approvals",
    "compliance_frameworks": None,
    "contract_adjustments": "use client.contract_service_adjustments or "
    "client.contract_service_bundle_adjustments",
    "contract_exclusions": "use client.contract_exclusion_sets, client.contract_exclusion_roles or "
    "client.contract_exclusion_billing_codes",
    "contract_roles": "use client.contract_rates or client.contract_role_costs",
    "custom_fields": "user-defined fields are client.user_defined_field_definitions",
    "dashboards": None,
    "data_export": "use client.create_exporter() or py_autotask.to_dataframe(...)",
    "data_integrations": None,
    "document_to_procedure_associations": None,
    "expense_categories": "expense categories are the expenseCategory picklist of ExpenseItems: "
    + _RAW.format("ExpenseItems/entityInformation/fields"),
    "expenses": "use client.expense_reports and client.expense_items",
    "incident_types": None,
    "integration_endpoints": None,
    "notes": "notes belong to a parent: client.ticket_notes, client.project_notes, "
    "client.company_notes, client.task_notes, ...",
    "notification_rules": None,
    "notification_templates": None,
    "operations": None,
    "organizational_levels": "use client.organizational_level1s and client.organizational_level2s",
    "performance_metrics": None,
    "product_categories": "product categories are the productCategory picklist of Products: "
    + _RAW.format("Products/entityInformation/fields"),
    "project_budgets": None,
    "project_milestones": None,
    "project_phases": "project phases are client.phases",
    "project_reports": None,
    "project_templates": None,
    "reports": None,
    "resource_allocation": None,
    "resource_role_skills": "use client.resource_skills",
    "security_policies": None,
    "service_level_agreements": "use client.service_level_agreement_results",
    "system_configuration": None,
    "system_health": "API usage and limits are reported by the ThresholdInformation endpoint: "
    + _RAW.format("ThresholdInformation"),
    "task_dependencies": "task dependencies are client.task_predecessors",
    "teams": None,
    "ticket_priorities": "ticket priorities are the priority picklist of Tickets: "
    + _RAW.format("Tickets/entityInformation/fields"),
    "ticket_sources": "ticket sources are the source picklist of Tickets: "
    + _RAW.format("Tickets/entityInformation/fields"),
    "ticket_statuses": "ticket statuses are the status picklist of Tickets: "
    + _RAW.format("Tickets/entityInformation/fields"),
    "user_defined_fields": "use client.user_defined_field_definitions",
    "vendor_types": None,
    "work_types": "work types are billing codes: client.billing_codes "
    "(and client.work_type_modifiers)",
    "workflow_rules": None,
    "workflows": None,
}

_BY_COLLECTION = "use the collection: client.<collection>.{0}, e.g. client.tickets.{1}"

#: Methods of py-autotask 2.3.0's ``AutotaskClient`` (client.py) that took an entity name, and
#: their replacement. Same source as :data:`NOT_REST_ENTITIES_2X`.
REMOVED_CLIENT_METHODS_2X: Final[Mapping[str, str]] = {
    "get": _BY_COLLECTION.format("get(id)", "get(12345)"),
    "query": _BY_COLLECTION.format("query(filter)", "query(F('status').eq(1))"),
    "count": _BY_COLLECTION.format("count(filter)", "count(F('status').eq(1))"),
    "create_entity": _BY_COLLECTION.format("create(data)", "create({...})"),
    "create_child_entity": "use the child collection: client.<parent>.<child>(parent_id).create(data), "
    "e.g. client.tickets.notes(12345).create({...})",
    "update": _BY_COLLECTION.format("update(data)", "update({'id': 12345, 'status': 5})")
    + " (a PATCH on the collection with the id in the body)",
    "update_child_entity": "use client.<parent>.<child>(parent_id).update(data)",
    "delete": _BY_COLLECTION.format("delete(id)", "...") + " (where Autotask allows deleting)",
    "delete_child_entity": "use client.<parent>.<child>(parent_id).delete(id)",
    "batch_create": "Autotask has no batch endpoint; use client.create_bulk_manager() or one "
    "create() per record",
    "batch_update": "Autotask has no batch endpoint; use client.create_bulk_manager() or one "
    "update() per record",
    "batch_delete": "Autotask has no batch endpoint; use one delete() per record",
    "get_field_info": "use client.raw_request('GET', '<Collection>/entityInformation/fields') "
    "or client.metadata",
    "get_entity_info": "use client.raw_request('GET', '<Collection>/entityInformation') "
    "or client.metadata",
    "session": "the client sends through httpx; pass http_client= or transport= to customise it",
    "auth": "credentials are client.credentials (secrets hidden) and client.api_url",
}

#: Methods of py-autotask 2.3.0's ``BaseEntity`` (entities/base.py) that the collections no longer
#: have, and their replacement.

_COLLECTION_ATTRIBUTE: Final = {collection: attr for attr, collection in ATTRIBUTES.items()}


@dataclass(frozen=True, slots=True)
class NameResolution:
    """What a name on the client stands for.

    ``attribute`` is the client attribute of the real collection (``None`` when there is none);
    ``deprecated`` is True for a legacy spelling that works but warns.
    """

    name: str
    attribute: str | None
    deprecated: bool
    message: str


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def _singular_forms(name: str) -> list[str]:
    forms = [name]
    if name.endswith("ies"):
        forms.append(name[:-3] + "y")
    if name.endswith("es"):
        forms.append(name[:-2])
    if name.endswith("s"):
        forms.append(name[:-1])
    return forms


def _collection_for(name: str) -> tuple[str, str | None] | None:
    """``(collection, SOAP entity or None)`` for a legacy spelling: a collection/attribute/singular
    /SOAP name in any case, or a plural of a SOAP singular (``accounts`` -> ``Account`` ->
    ``Companies``); ``None`` when nothing matches."""
    soap_lower = {k.lower(): k for k in SOAP_ENTITIES}
    for candidate in (name, _pascal(name)):
        for form in _singular_forms(candidate):
            found = resolve_name(form)
            if found is not None:
                return found, soap_lower.get(form.lower())
    return None


@lru_cache(maxsize=512)
def _nearest(name: str, n: int = 3) -> tuple[str, ...]:
    pool = list(ATTRIBUTES)
    key = re.sub(r"[^a-z0-9_]", "", name.lower())
    matches = difflib.get_close_matches(key, pool, n=n, cutoff=0.5)
    if len(matches) < n:
        # Word overlap catches what character similarity misses (audit_logs -> *_logs).
        words = {w for w in key.split("_") if len(w) > 2}
        overlap = [a for a in ATTRIBUTES if words & set(a.split("_")) and a not in matches]
        overlap.sort(key=lambda a: (-len(words & set(a.split("_"))), len(a), a))
        matches += overlap[: n - len(matches)]
    if not matches:
        matches = difflib.get_close_matches(key, pool, n=n, cutoff=0.0)
    return tuple(matches)


def resolve_legacy_name(name: str, *, owner: str = "client") -> NameResolution:
    """Resolve ``name`` (an attribute looked up on a client, not found there).

    Legacy spellings of real collections resolve with ``deprecated=True``; the names py-autotask
    2.x invented, and anything else, resolve with ``attribute=None`` and a message that says what
    to use instead.
    """
    found = _collection_for(name)
    if found is not None:
        collection, soap = found
        attribute = _COLLECTION_ATTRIBUTE[collection]
        kind = f"the SOAP-era entity {soap!r}" if soap else "a legacy spelling"
        return NameResolution(
            name,
            attribute,
            True,
            f"{owner}.{name} is {kind}, deprecated; use {owner}.{attribute} "
            f"(the REST collection {collection!r})",
        )
    nearest = ", ".join(f"{owner}.{a}" for a in _nearest(name))
    if name in NOT_REST_ENTITIES_2X:
        alternative = NOT_REST_ENTITIES_2X[name]
        text = (
            f"{owner}.{name} does not exist: Autotask's REST API has no {_pascal(name)} entity "
            "(py-autotask 2.x exposed this name, but it never matched a real collection). "
        )
        text += (
            f"Instead, {alternative}."
            if alternative
            else "Autotask offers nothing equivalent through its API."
        )
        if nearest:
            text += f" Nearest real collections: {nearest}."
        return NameResolution(name, None, False, text)
    if name in REMOVED_CLIENT_METHODS_2X:
        text = (
            f"{owner}.{name} was a py-autotask 2.x client method taking an entity name; "
            f"{REMOVED_CLIENT_METHODS_2X[name]}."
        )
        return NameResolution(name, None, False, text)
    text = f"{owner} has no attribute or Autotask collection named {name!r}."
    if nearest:
        text += f" Nearest real collections: {nearest}."
    return NameResolution(name, None, False, text)


def resolve_client_attribute(client: Any, name: str, *, owner: str = "client") -> Any:
    """The body of the clients' ``__getattr__`` (called only for names not found normally).

    Private names raise a plain :class:`AttributeError`; a legacy spelling of a real collection
    returns that collection with a :class:`DeprecationWarning` naming the replacement; anything
    else raises :class:`~py_autotask.exceptions.AutotaskUnknownEntityError` (an
    ``AttributeError``, so ``hasattr`` stays False) saying what to use instead.
    """
    if name.startswith("_"):
        raise AttributeError(f"{type(client).__name__!r} object has no attribute {name!r}")
    resolution = resolve_legacy_name(name, owner=owner)
    if resolution.attribute == name:
        # A real attribute whose getter raised AttributeError: do not loop back into it.
        raise AttributeError(f"{type(client).__name__!r} object has no attribute {name!r}")
    if resolution.attribute is not None:
        warn_deprecated(resolution.message)
        return getattr(client, resolution.attribute)
    raise AutotaskUnknownEntityError(
        resolution.message,
        name=name,
        suggestions=list(_nearest(name)),
        alternative=NOT_REST_ENTITIES_2X.get(name) or REMOVED_CLIENT_METHODS_2X.get(name),
    )
