"""Register, list, test and delete Autotask webhooks (``<Entity>Webhooks`` and their children).

Every fact comes from the metadata, none from a table written here:

* the configuration collections of an entity (``TicketWebhooks`` and its ``Fields``,
  ``UdfFields`` and ``ExcludedResources`` children) are the generated specs whose parent route
  is that entity's webhook collection; a child is told apart by the field it carries
  (``fieldID``, ``udfFieldID``, ``resourceID``);
* whether the entity can call out at all is the tenant's ``supportsWebhookCallouts``;
* the subscribable fields are the ``fieldID`` picklist of ``<X>WebhookFields`` (value = the id
  a field row needs, label = the field), the UDFs the ``udfFieldID`` picklist of
  ``<X>WebhookUdfFields``, both read from the tenant through ``client.metadata``.

Every request goes through the client (``client.sender``), one at a time, so the
3-requests-per-endpoint limit and the hourly pacing hold while a webhook's field rows are created
(an Autotask integration shipped firing them in parallel). A registration failing half way is
undone (children, then the webhook); when undoing fails too, :class:`WebhookRegistrationError`
says exactly which rows still exist. The secret key is sent once, in the create, and kept nowhere:
no :class:`Webhook` attribute, repr or error message holds it.
"""

from __future__ import annotations

import builtins
import functools
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from .. import _core
from .._config import Credentials
from .._core import ApiRequest, ApiResponse, ClientCore
from .._hooksig import SIGNATURE_HEADER, dotnet_form, sign
from .._registry import entity_names, spec_for
from .._sender import Flow, blocking, collect_pages, request
from .._spec import EntitySpec
from .._values import _integral
from ..exceptions import (
    AutotaskAmbiguousWriteError,
    AutotaskConfigError,
    AutotaskError,
    scrub_secrets,
)
from ..query import F, or_

if TYPE_CHECKING:
    from .._sender import AsyncSender, Sender
    from ..caching._metadata import MetadataProvider

__all__ = [
    "AsyncWebhookRegistry",
    "DeactivatedWebhook",
    "FieldCatalog",
    "TestDelivery",
    "Webhook",
    "WebhookCollections",
    "WebhookRegistrationError",
    "WebhookRegistry",
    "webhook_collections",
    "webhook_entities",
]

#: the events a webhook can subscribe to, and the webhook model's flag for each
EVENTS: Mapping[str, str] = {
    "create": "isSubscribedToCreateEvents",
    "update": "isSubscribedToUpdateEvents",
    "delete": "isSubscribedToDeleteEvents",
}
_ERROR_LOGS = "WebhookEventErrorLogs"
_TEST_TIMEOUT = 10.0  # Autotask's own callout timeout


class WebhookRegistrationError(AutotaskError):
    """A registration failed half way. ``removed`` is True when everything created was deleted
    again; otherwise ``left`` lists what still exists (``"TicketWebhooks 12"``,
    ``"TicketWebhookFields 40 (webhook 12)"``)."""

    def __init__(self, message: str, *, removed: bool, left: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.removed = removed
        self.left = list(left)


# --- where an entity's webhooks live (from the specs) ------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookCollections:
    """The collections that configure one entity's webhooks."""

    entity: str  # "Tickets"
    webhooks: EntitySpec  # TicketWebhooks
    fields: EntitySpec  # TicketWebhookFields (rows with fieldID)
    udf_fields: EntitySpec | None  # TicketWebhookUdfFields (udfFieldID); TicketNotes have none
    excluded: EntitySpec | None  # TicketWebhookExcludedResources (resourceID)
    #: the WebhookEventErrorLogs field naming this kind of webhook ("accountWebhookID"), if any
    error_log_field: str | None


def _children(webhooks: EntitySpec) -> list[EntitySpec]:
    """The collections with a parent route under ``webhooks`` (``TicketWebhooks/{id}/...``)."""
    stem = webhooks.singular.lower()
    found = []
    for name in entity_names():
        if name != webhooks.name and name.lower().startswith(stem):
            child = spec_for(name)
            if child.route_for_parent(webhooks.name) is not None:
                found.append(child)
    return found


def _webhook_spec(entity: EntitySpec) -> EntitySpec | None:
    for name in entity_names():
        if name.lower() == f"{entity.singular}webhooks".lower():
            return spec_for(name)
    return None


@functools.lru_cache(maxsize=1)
def _webhook_entities() -> tuple[str, ...]:
    out = set()
    for name in entity_names():
        if not name.lower().endswith("webhooks"):
            continue
        hooks = spec_for(name)
        try:  # the singular name without "Webhook": "Ticket" -> Tickets
            owner = spec_for(hooks.singular[: -len("Webhook")])
        except AutotaskConfigError:
            continue
        if _webhook_spec(owner) == hooks:
            out.add(owner.name)
    return tuple(sorted(out))


def webhook_entities() -> list[str]:
    """The collections that have webhook configuration collections, sorted (whether the tenant
    lets them call out is ``supportsWebhookCallouts``, checked when registering)."""
    return list(_webhook_entities())


def webhook_collections(entity: str | EntitySpec) -> WebhookCollections:
    """The webhook collections of ``entity`` (any spelling the registry accepts)."""
    spec = spec_for(entity)
    hooks = _webhook_spec(spec)
    if hooks is None:
        raise AutotaskConfigError(
            f"{spec.name} has no webhooks; entities with webhooks: {', '.join(webhook_entities())}"
        )
    by_field: dict[str, EntitySpec] = {}
    for child in _children(hooks):
        for key in ("udfFieldID", "fieldID", "resourceID"):
            if key in child.fields:
                by_field.setdefault(key, child)
                break
    if "fieldID" not in by_field:
        raise AutotaskConfigError(f"{hooks.name} has no field collection in the metadata")
    link = None
    if _ERROR_LOGS in entity_names():
        legacy = (hooks.soap_entity or hooks.singular).lower()
        for name in spec_for(_ERROR_LOGS).fields:
            if name.lower() == f"{legacy}id":
                link = name
    return WebhookCollections(
        entity=spec.name,
        webhooks=hooks,
        fields=by_field["fieldID"],
        udf_fields=by_field.get("udfFieldID"),
        excluded=by_field.get("resourceID"),
        error_log_field=link,
    )


# --- what the tenant lets one subscribe to (from the metadata) ---------------------------------


@dataclass(frozen=True)
class FieldCatalog:
    """The subscribable fields (REST spelling -> ``fieldID``) and UDFs (name -> ``udfFieldID``)."""

    entity: str
    fields: Mapping[str, int]
    udfs: Mapping[str, int]
    #: the collections whose ``fieldID`` / ``udfFieldID`` picklists these come from
    fields_source: str | None = None
    udfs_source: str | None = None

    def field_name(self, field_id: int) -> str:
        for name, fid in self.fields.items():
            if fid == field_id:
                return name
        return f"field {field_id}"

    def udf_name(self, udf_id: int) -> str:
        for name, uid in self.udfs.items():
            if uid == udf_id:
                return name
        return f"udf {udf_id}"

    def resolve(self, names: Iterable[str], *, udf: bool = False) -> dict[str, int]:
        """``names`` -> ids (case-insensitive); any name not subscribable raises one error naming
        every bad one and the allowed ones."""
        pool = self.udfs if udf else self.fields
        lowered = {k.lower(): k for k in pool}
        out: dict[str, int] = {}
        bad = []
        for name in names:
            key = lowered.get(name.strip().lower())
            if key is None:
                bad.append(name)
            else:
                out[key] = pool[key]
        if bad:
            kind = "UDF" if udf else "field"
            source = self.udfs_source if udf else self.fields_source
            key = "udfFieldID" if udf else "fieldID"
            allowed = ", ".join(sorted(pool)) or (
                f"none (the {key} picklist of {source or 'the webhook field collection'} is "
                "empty in this tenant's metadata)"
            )
            raise AutotaskConfigError(
                f"{self.entity} webhooks cannot subscribe to {kind}"
                f"{'s' if len(bad) > 1 else ''} {', '.join(repr(b) for b in bad)}; "
                f"allowed {kind}s: {allowed}"
            )
        return out


def _picklist(fields: Any, name: str) -> dict[str, int]:
    """label -> int value of field ``name``'s active picklist values."""
    for fld in fields or []:
        if str(fld.get("name", "")).lower() == name.lower():
            out = {}
            for value in fld.get("picklistValues") or []:
                if value.get("isActive", True) is False:
                    continue
                try:
                    out[str(value.get("label") or value.get("value"))] = int(value["value"])
                except (KeyError, TypeError, ValueError):
                    continue
            return out
    return {}


def _catalog_flow(meta: MetadataProvider, cols: WebhookCollections) -> Flow[FieldCatalog]:
    info = yield from meta.load_flow(cols.entity, "entityInformation")
    if not info.get("supportsWebhookCallouts"):
        raise AutotaskConfigError(
            f"{cols.entity} does not support webhook callouts in this tenant "
            "(entityInformation supportsWebhookCallouts is false)"
        )
    entity_fields = yield from meta.load_flow(cols.entity, "fields")
    rest = {str(f.get("name", "")).lower(): str(f.get("name")) for f in entity_fields or []}
    # where the tenant flags fields (isSupportedWebhookField), a field flagged false is left out
    # even when the picklist names it; a tenant flagging none leaves the picklist as it is
    flagged = any(f.get("isSupportedWebhookField") for f in entity_fields or [])
    refused = {
        str(f.get("name", "")).lower()
        for f in entity_fields or []
        if flagged and f.get("isSupportedWebhookField") is False
    }
    raw = yield from meta.load_flow(cols.fields.name, "fields")
    fields = {
        rest.get(label.lower(), label): fid
        for label, fid in _picklist(raw, "fieldID").items()
        if label.lower() not in refused
    }
    udfs: dict[str, int] = {}
    if cols.udf_fields is not None:
        raw_udf = yield from meta.load_flow(cols.udf_fields.name, "fields")
        udfs = _picklist(raw_udf, "udfFieldID")
    return FieldCatalog(
        cols.entity,
        fields,
        udfs,
        cols.fields.name,
        cols.udf_fields.name if cols.udf_fields else None,
    )


# --- what comes back -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    """One registered webhook, as Autotask reports it (its secret key is never kept)."""

    id: int
    entity: str
    name: str | None
    guid: str | None
    url: str | None
    deactivation_url: str | None
    active: bool
    ready: bool | None
    events: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()  # subscribed fields
    display_always: tuple[str, ...] = ()
    udfs: tuple[str, ...] = ()  # subscribed UDFs
    excluded_resources: tuple[int, ...] = ()
    #: the child rows' ids: {collection name: [row ids]}
    rows: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False)

    def as_row(self) -> dict[str, Any]:
        """A flat record for tables and JSON."""
        return {
            "entity": self.entity,
            "id": self.id,
            "name": self.name,
            "guid": self.guid,
            "url": self.url,
            "active": self.active,
            "ready": self.ready,
            "events": ",".join(self.events),
            "fields": ",".join(self.fields),
            "display_always": ",".join(self.display_always),
            "udfs": ",".join(self.udfs),
            "excluded_resources": ",".join(str(r) for r in self.excluded_resources),
        }


@dataclass(frozen=True)
class DeactivatedWebhook:
    """An inactive webhook and the delivery errors Autotask logged for it (where the API links
    error log rows to that kind of webhook: ``WebhookEventErrorLogs``)."""

    webhook: Webhook
    errors: tuple[Mapping[str, Any], ...] = ()
    #: False when WebhookEventErrorLogs has no field naming this kind of webhook
    errors_linked: bool = True


@dataclass(frozen=True)
class TestDelivery:
    """The answer of a webhook's URL to a signed sample payload."""

    url: str
    status: int
    seconds: float
    body: bytes = field(repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


# --- the registry ----------------------------------------------------------------------------------


class _Client(Protocol):
    """What the registry needs of an :class:`~py_autotask.AutotaskClient`."""

    @property
    def sender(self) -> Sender: ...

    @property
    def metadata(self) -> MetadataProvider: ...

    @property
    def credentials(self) -> Credentials: ...


class _AsyncClient(Protocol):
    """What the async registry needs of an :class:`~py_autotask.AsyncAutotaskClient`."""

    @property
    def sender(self) -> AsyncSender: ...

    @property
    def metadata(self) -> MetadataProvider: ...

    @property
    def credentials(self) -> Credentials: ...


def _items(reader: ClientCore, first: ApiRequest) -> Flow[list[dict[str, Any]]]:
    def read(response: ApiResponse) -> tuple[list[dict[str, Any]], str | None]:
        data = reader.read_json(response) or {}
        return list(data.get("items") or []), (data.get("pageDetails") or {}).get("nextPageUrl")

    pages = yield from collect_pages(reader, first, read)
    return [item for page in pages for item in page]


def _query(reader: ClientCore, spec: EntitySpec, filter: Any) -> Flow[list[dict[str, Any]]]:
    from ..query import build_query_body

    return (yield from _items(reader, _core.query_request(spec, build_query_body(filter))))


def _get(record: Mapping[str, Any], name: str) -> Any:
    """``record[name]`` with the name in any case (``webhookGUID`` in the reference, ``webhookGuid``
    in the metadata)."""
    if name in record:
        return record[name]
    lowered = name.lower()
    return next((v for k, v in record.items() if k.lower() == lowered), None)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    return value if isinstance(value, int) else _integral(value)


def _ids(rows: Iterable[Mapping[str, Any]], key: str, flag: str | None = None) -> list[int]:
    """The integer ``key`` of the rows (with ``flag`` set, when given); null ids skipped."""
    out = []
    for row in rows:
        value = _int(row.get(key))
        if value is not None and (flag is None or row.get(flag)):
            out.append(value)
    return out


def _check_text(value: str | None, what: str, limit: int, *, required: bool = True) -> str | None:
    if value is None or not value.strip():
        if required:
            raise AutotaskConfigError(f"{what} is required")
        return None
    if len(value) > limit:
        raise AutotaskConfigError(f"{what} is {len(value)} characters; Autotask allows {limit}")
    return value


def _check_url(value: str | None, what: str, limit: int) -> str:
    url = _check_text(value, what, limit)
    assert url is not None
    if not url.lower().startswith(("http://", "https://")):
        raise AutotaskConfigError(f"{what} {url!r} must be an http:// or https:// URL")
    return url


def _limit(spec: EntitySpec, name: str, default: int) -> int:
    fld = spec.fields.get(name)
    return fld.length if fld is not None and fld.length > 0 else default


class _RegistryFlows:
    """The registry's logic, written once as flows; :class:`WebhookRegistry` runs them on a
    sync client, :class:`AsyncWebhookRegistry` on an async one."""

    def __init__(self, reader: ClientCore, metadata: MetadataProvider, username: str) -> None:
        self._reader = reader
        self._metadata = metadata
        self._username = username
        self._catalogs: dict[str, FieldCatalog] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # - reading -

    def _catalog(self, cols: WebhookCollections) -> Flow[FieldCatalog]:
        found = self._catalogs.get(cols.entity)
        if found is None:
            found = yield from _catalog_flow(self._metadata, cols)
            self._catalogs[cols.entity] = found
        return found

    def _own_resource_id(self) -> Flow[int]:
        username = self._username
        spec = spec_for("Resources")
        rows = yield from _query(
            self._reader, spec, or_(F("userName").eq(username), F("email").eq(username))
        )
        ids = sorted({int(r["id"]) for r in rows if r.get("id") is not None})
        if len(ids) != 1:
            found = "no resource" if not ids else f"{len(ids)} resources ({ids})"
            raise AutotaskConfigError(
                f"found {found} with userName or email equal to the API user's name, so the "
                "integration's own changes cannot be excluded by default; pass "
                "exclude_resources=[ID] (CLI: --exclude-resource ID) or exclude_resources=[] "
                "(CLI: --no-exclude-self)"
            )
        return ids[0]

    def _children_flow(
        self, cols: WebhookCollections, ids: Sequence[int]
    ) -> Flow[dict[str, list[dict[str, Any]]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for child in (cols.fields, cols.udf_fields, cols.excluded):
            if child is None:
                continue
            rows: list[dict[str, Any]] = []
            if ids and "query" in child.root_operations:
                for start in range(0, len(ids), 500):
                    chunk = list(ids[start : start + 500])
                    rows += yield from _query(self._reader, child, F("webhookID").in_(chunk))
            else:
                route = child.route_for_parent(cols.webhooks.name)
                assert route is not None
                for wid in ids:
                    req = _core.child_list_request(child, route, wid)
                    for row in (yield from _items(self._reader, req)):
                        rows.append({**row, "webhookID": row.get("webhookID", wid)})
            out[child.name] = rows
        return out

    def _webhooks(self, cols: WebhookCollections, filter: Any) -> Flow[list[Webhook]]:
        hooks = yield from _query(self._reader, cols.webhooks, filter)
        ids = [int(h["id"]) for h in hooks]
        children = yield from self._children_flow(cols, ids)
        catalog = (yield from self._catalog(cols)) if ids else FieldCatalog(cols.entity, {}, {})
        return [self._webhook(cols, catalog, h, children) for h in hooks]

    @staticmethod
    def _webhook(
        cols: WebhookCollections,
        catalog: FieldCatalog,
        hook: Mapping[str, Any],
        children: Mapping[str, list[dict[str, Any]]],
    ) -> Webhook:
        wid = int(hook["id"])

        def mine(spec: EntitySpec | None) -> list[dict[str, Any]]:
            if spec is None:
                return []
            return [r for r in children.get(spec.name, []) if r.get("webhookID") == wid]

        frows, urows, xrows = mine(cols.fields), mine(cols.udf_fields), mine(cols.excluded)
        rows = {
            spec.name: tuple(_ids(found, "id"))
            for spec, found in (
                (cols.fields, frows),
                (cols.udf_fields, urows),
                (cols.excluded, xrows),
            )
            if spec is not None and found
        }
        return Webhook(
            id=wid,
            entity=cols.entity,
            name=hook.get("name"),
            guid=_get(hook, "webhookGUID"),
            url=hook.get("webhookUrl"),
            deactivation_url=hook.get("deactivationUrl"),
            active=bool(hook.get("isActive")),
            ready=hook.get("isReady"),
            events=tuple(e for e, flag in EVENTS.items() if hook.get(flag)),
            fields=tuple(
                catalog.field_name(i) for i in _ids(frows, "fieldID", "isSubscribedField")
            ),
            display_always=tuple(
                catalog.field_name(i) for i in _ids(frows, "fieldID", "isDisplayAlwaysField")
            ),
            udfs=tuple(catalog.udf_name(i) for i in _ids(urows, "udfFieldID", "isSubscribedField")),
            excluded_resources=tuple(_ids(xrows, "resourceID")),
            rows=rows,
        )

    def _get_flow(self, entity: str | EntitySpec, webhook_id: int) -> Flow[Webhook]:
        cols = webhook_collections(entity)
        found = yield from self._webhooks(cols, F("id").eq(int(webhook_id)))
        if not found:
            raise AutotaskConfigError(f"{cols.webhooks.name} has no webhook with id {webhook_id}")
        return found[0]

    def _list_flow(self, entity: str | EntitySpec | None) -> Flow[list[Webhook]]:
        names = [spec_for(entity).name] if entity is not None else webhook_entities()
        out: list[Webhook] = []
        for name in names:
            out += yield from self._webhooks(webhook_collections(name), None)
        return out

    def _deactivated_flow(self) -> Flow[list[DeactivatedWebhook]]:
        out: list[DeactivatedWebhook] = []
        for name in webhook_entities():
            cols = webhook_collections(name)
            hooks = yield from self._webhooks(cols, F("isActive").eq(False))
            logs: list[dict[str, Any]] = []
            if hooks and cols.error_log_field is not None:
                logs = yield from _query(
                    self._reader,
                    spec_for(_ERROR_LOGS),
                    F(cols.error_log_field).in_([h.id for h in hooks]),
                )
            for hook in hooks:
                mine = tuple(r for r in logs if r.get(cols.error_log_field or "") == hook.id)
                out.append(DeactivatedWebhook(hook, mine, cols.error_log_field is not None))
        return out

    # - writing -

    def _register_flow(
        self,
        entity: str | EntitySpec,
        *,
        url: str,
        secret_key: str,
        fields: Sequence[str],
        udfs: Sequence[str],
        display_always: Sequence[str],
        exclude_resources: Sequence[int] | None,
        deactivation_url: str | None,
        name: str | None,
        events: Sequence[str],
        notification_email: str | None,
    ) -> Flow[Webhook]:
        cols = webhook_collections(entity)
        hooks = cols.webhooks
        url = _check_url(url, "url", _limit(hooks, "webhookUrl", 500))
        deactivation = _check_url(
            deactivation_url or url, "deactivation_url", _limit(hooks, "deactivationUrl", 500)
        )
        secret = _check_text(secret_key, "secret_key", _limit(hooks, "secretKey", 64))
        label = _check_text(name, "name", _limit(hooks, "name", 50), required=False)
        unknown = [e for e in events if e.lower() not in EVENTS]
        if unknown or not events:
            raise AutotaskConfigError(
                f"events {list(events)!r}: choose one or more of {', '.join(EVENTS)}"
            )
        if not fields and not udfs:
            raise AutotaskConfigError(
                "a webhook needs at least one field or UDF to subscribe to (Autotask sends "
                "nothing before one exists)"
            )
        catalog = yield from self._catalog(cols)
        chosen = catalog.resolve(fields)
        shown = catalog.resolve(display_always)
        chosen_udfs = catalog.resolve(udfs, udf=True)
        if chosen_udfs and cols.udf_fields is None:
            raise AutotaskConfigError(f"{cols.entity} webhooks cannot subscribe to UDFs")
        excluded = (
            [(yield from self._own_resource_id())]
            if exclude_resources is None
            else [int(r) for r in exclude_resources]
        )
        if excluded and cols.excluded is None:
            raise AutotaskConfigError(f"{cols.entity} webhooks cannot exclude resources")
        body: dict[str, Any] = {
            "name": label or f"py-autotask {cols.entity}",
            "webhookUrl": url,
            "deactivationUrl": deactivation,
            "secretKey": secret,
            "isActive": True,
            "sendThresholdExceededNotification": False,
            **{flag: event in {e.lower() for e in events} for event, flag in EVENTS.items()},
        }
        if notification_email:
            body["notificationEmailAddress"] = notification_email
        rows: list[tuple[EntitySpec, dict[str, Any]]] = []
        for fname, fid in chosen.items():
            rows.append(
                (
                    cols.fields,
                    {
                        "fieldID": fid,
                        "isSubscribedField": True,
                        "isDisplayAlwaysField": fname in shown,
                    },
                )
            )
        for fname, fid in shown.items():
            if fname not in chosen:
                rows.append(
                    (
                        cols.fields,
                        {"fieldID": fid, "isSubscribedField": False, "isDisplayAlwaysField": True},
                    )
                )
        if cols.udf_fields is not None:
            for uid in chosen_udfs.values():
                rows.append(
                    (
                        cols.udf_fields,
                        {
                            "udfFieldID": uid,
                            "isSubscribedField": True,
                            "isDisplayAlwaysField": False,
                        },
                    )
                )
        if cols.excluded is not None:
            for rid in dict.fromkeys(excluded):
                rows.append((cols.excluded, {"resourceID": rid}))

        created: list[tuple[EntitySpec, int]] = []
        webhook_id: int | None = None
        try:
            webhook_id = yield from self._create_flow(hooks, body)
            for spec, data in rows:
                row_id = yield from self._create_child_flow(
                    cols, spec, webhook_id, {**data, "webhookID": webhook_id}
                )
                created.append((spec, row_id))
            return (yield from self._get_flow(cols.entity, webhook_id))
        except Exception as exc:
            if webhook_id is None:
                if isinstance(exc, AutotaskAmbiguousWriteError):
                    raise WebhookRegistrationError(
                        f"creating the {cols.entity} webhook had an unknown outcome "
                        f"({scrub_secrets(str(exc), [secret or ''])}); it may exist without "
                        f"fields: look for {body['name']!r} with `py-autotask webhooks list "
                        f"{cols.entity}` and delete it before registering again",
                        removed=False,
                        left=[f"{cols.webhooks.name} named {body['name']!r} (maybe)"],
                    ) from exc
                raise
            yield from self._undo(cols, webhook_id, created, exc, secret or "")
            raise  # pragma: no cover - _undo always raises

    def _create_flow(self, spec: EntitySpec, body: Mapping[str, Any]) -> Flow[int]:
        response = yield from request(_core.create_request(spec, dict(body)))
        return self._reader.read_item_id(response)

    def _create_child_flow(
        self, cols: WebhookCollections, spec: EntitySpec, parent: int, body: Mapping[str, Any]
    ) -> Flow[int]:
        route = spec.route_for_parent(cols.webhooks.name)
        assert route is not None
        req = _core.child_write_request(spec, route, parent, "create", dict(body))
        response = yield from request(req)
        return self._reader.read_item_id(response)

    def _delete_rows(
        self, cols: WebhookCollections, webhook_id: int, rows: Sequence[tuple[EntitySpec, int]]
    ) -> Flow[list[str]]:
        """Delete ``rows`` (newest first), then the webhook; what could not be deleted."""
        left: list[str] = []
        for spec, row_id in reversed(rows):
            route = spec.route_for_parent(cols.webhooks.name)
            assert route is not None
            try:
                yield from self._delete_flow(
                    _core.child_delete_request(spec, route, webhook_id, row_id)
                )
            except AutotaskError:
                left.append(f"{spec.name} {row_id} (webhook {webhook_id})")
        try:
            yield from self._delete_flow(_core.delete_request(cols.webhooks, webhook_id))
        except AutotaskError:
            left.insert(0, f"{cols.webhooks.name} {webhook_id}")
        return left

    def _delete_flow(self, req: ApiRequest) -> Flow[None]:
        response = yield from request(req)
        self._reader.read_none(response)

    def _undo(
        self,
        cols: WebhookCollections,
        webhook_id: int,
        created: Sequence[tuple[EntitySpec, int]],
        exc: Exception,
        secret: str,
    ) -> Flow[None]:
        """Delete everything of the half-registered webhook: the rows the server lists for it
        (a create whose outcome was unknown may have made one more than ``created`` knows of),
        then the webhook; raise :class:`WebhookRegistrationError` saying what is left."""
        cause = scrub_secrets(str(exc), [secret]) if secret else str(exc)
        rows = list(created)
        try:
            listed = yield from self._children_flow(cols, [webhook_id])
        except AutotaskError:
            listed = {}
        known = {(spec.name, row_id) for spec, row_id in rows}
        for name, found in listed.items():
            for row_id in _ids(found, "id"):
                if (name, row_id) not in known:
                    rows.append((spec_for(name), row_id))
        left = yield from self._delete_rows(cols, webhook_id, rows)
        if not left:
            raise WebhookRegistrationError(
                f"registering the {cols.entity} webhook failed after it was created ({cause}); "
                f"everything created was deleted again ({cols.webhooks.name} {webhook_id} and "
                f"{len(rows)} row(s)), nothing is registered",
                removed=True,
            ) from exc
        raise WebhookRegistrationError(
            f"registering the {cols.entity} webhook failed after it was created ({cause}) and "
            f"undoing it failed too; these still exist and are NOT a working webhook: "
            f"{'; '.join(left)} (delete them with `py-autotask webhooks delete {cols.entity} "
            f"{webhook_id}`)",
            removed=False,
            left=left,
        ) from exc

    def _delete_webhook_flow(self, entity: str | EntitySpec, webhook_id: int) -> Flow[None]:
        hook = yield from self._get_flow(entity, webhook_id)
        cols = webhook_collections(entity)
        rows = [(spec_for(name), row_id) for name, ids in hook.rows.items() for row_id in ids]
        left = yield from self._delete_rows(cols, hook.id, rows)
        if left:
            raise AutotaskError(f"deleting {cols.webhooks.name} {hook.id} left: {'; '.join(left)}")

    # - testing -

    def sample_payload(self, hook: Webhook, sequence: int = 0) -> dict[str, Any]:
        """A callout payload as Autotask sends one (an ``Update`` of record id 0 carrying the
        subscribed fields with null values)."""
        spec = spec_for(hook.entity)
        now = datetime.now(timezone.utc)
        return {
            "Action": "Update",
            "Guid": hook.guid,
            "EntityType": spec.soap_entity or spec.singular,
            "Id": 0,
            "Fields": {name: None for name in (*hook.fields, *hook.display_always)},
            "EventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "SequenceNumber": sequence,
            "PersonID": None,
        }

    def _test_flow(
        self, entity: str | EntitySpec, webhook_id: int, secret_key: str | None
    ) -> Flow[TestDelivery]:
        cols = webhook_collections(entity)
        hook = yield from self._get_flow(cols.entity, webhook_id)
        secret = secret_key
        if not secret:
            raw = yield from _query(self._reader, cols.webhooks, F("id").eq(int(webhook_id)))
            secret = str(raw[0].get("secretKey") or "") if raw else ""
        if not secret:
            raise AutotaskConfigError(
                f"{cols.webhooks.name} {webhook_id}: the API does not return its secret key; "
                "give it (secret_key=..., CLI: --secret-from-env VAR)"
            )
        if not hook.url:
            raise AutotaskConfigError(f"{cols.webhooks.name} {webhook_id} has no webhookUrl")
        body = json.dumps(
            self.sample_payload(hook), separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, dotnet_form(body)),
        }
        return (yield from blocking(_post_sample, hook.url, body, headers))


def _post_sample(url: str, body: bytes, headers: Mapping[str, str]) -> TestDelivery:
    import httpx

    started = time.perf_counter()
    try:
        response = httpx.post(url, content=body, headers=dict(headers), timeout=_TEST_TIMEOUT)
    except httpx.HTTPError as exc:
        raise AutotaskError(
            f"posting the sample to {url} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return TestDelivery(url, response.status_code, time.perf_counter() - started, response.content)


_REGISTER_DOC = """Create a webhook on ``entity`` with its field, UDF and excluded-resource rows.

        ``exclude_resources=None`` excludes the API user's own resource (its changes would echo
        back as events); ``[]`` excludes none. ``deactivation_url`` defaults to ``url``. Every
        name is checked against the tenant's catalog before anything is created; a failure after
        the webhook exists deletes what was created (:class:`WebhookRegistrationError`)."""


class WebhookRegistry(_RegistryFlows):
    """Webhooks of every entity that has them, managed through a sync client::

    hooks = WebhookRegistry(client)
    hook = hooks.register("Tickets", url="https://example.com/hook",
                          fields=["status", "priority"], secret_key=secret)
    for hook in hooks.list(): ...
    """

    def __init__(self, client: _Client) -> None:
        super().__init__(client.sender.reader, client.metadata, client.credentials.username)
        self._sender = client.sender

    def catalog(self, entity: str | EntitySpec) -> FieldCatalog:
        """What ``entity``'s webhooks can subscribe to in this tenant."""
        return self._sender.run(self._catalog(webhook_collections(entity)))

    def own_resource_id(self) -> int:
        """The resource id of the API user this client signs in as (``Resources`` whose
        ``userName`` or ``email`` is the client's user name)."""
        return self._sender.run(self._own_resource_id())

    def get(self, entity: str | EntitySpec, webhook_id: int) -> Webhook:
        """One webhook with its field, UDF and excluded-resource rows."""
        return self._sender.run(self._get_flow(entity, webhook_id))

    def list(self, entity: str | EntitySpec | None = None) -> builtins.list[Webhook]:
        """Every webhook of ``entity`` (of every entity with webhooks when None)."""
        return self._sender.run(self._list_flow(entity))

    def deactivated(self) -> builtins.list[DeactivatedWebhook]:
        """Inactive webhooks of every entity, each with its ``WebhookEventErrorLogs`` rows where
        the API links them to that kind of webhook."""
        return self._sender.run(self._deactivated_flow())

    def register(
        self,
        entity: str | EntitySpec,
        *,
        url: str,
        secret_key: str,
        fields: Sequence[str] = (),
        udfs: Sequence[str] = (),
        display_always: Sequence[str] = (),
        exclude_resources: Sequence[int] | None = None,
        deactivation_url: str | None = None,
        name: str | None = None,
        events: Sequence[str] = ("create", "update", "delete"),
        notification_email: str | None = None,
    ) -> Webhook:
        return self._sender.run(
            self._register_flow(
                entity,
                url=url,
                secret_key=secret_key,
                fields=fields,
                udfs=udfs,
                display_always=display_always,
                exclude_resources=exclude_resources,
                deactivation_url=deactivation_url,
                name=name,
                events=events,
                notification_email=notification_email,
            )
        )

    register.__doc__ = _REGISTER_DOC

    def delete(self, entity: str | EntitySpec, webhook_id: int) -> None:
        """Delete a webhook: its field, UDF and excluded-resource rows, then itself."""
        self._sender.run(self._delete_webhook_flow(entity, webhook_id))

    def test(
        self, entity: str | EntitySpec, webhook_id: int, *, secret_key: str | None = None
    ) -> TestDelivery:
        """POST a signed sample payload to the webhook's URL (Autotask's REST API has no "send a
        test callout" endpoint). The secret is the one given, else the webhook's ``secretKey`` as
        the API returns it."""
        return self._sender.run(self._test_flow(entity, webhook_id, secret_key))


class AsyncWebhookRegistry(_RegistryFlows):
    """:class:`WebhookRegistry` for an :class:`~py_autotask.AsyncAutotaskClient` (same methods,
    awaited)."""

    def __init__(self, client: _AsyncClient) -> None:
        super().__init__(client.sender.reader, client.metadata, client.credentials.username)
        self._sender = client.sender

    async def catalog(self, entity: str | EntitySpec) -> FieldCatalog:
        return await self._sender.run(self._catalog(webhook_collections(entity)))

    async def own_resource_id(self) -> int:
        return await self._sender.run(self._own_resource_id())

    async def get(self, entity: str | EntitySpec, webhook_id: int) -> Webhook:
        return await self._sender.run(self._get_flow(entity, webhook_id))

    async def list(self, entity: str | EntitySpec | None = None) -> builtins.list[Webhook]:
        return await self._sender.run(self._list_flow(entity))

    async def deactivated(self) -> builtins.list[DeactivatedWebhook]:
        return await self._sender.run(self._deactivated_flow())

    async def register(
        self,
        entity: str | EntitySpec,
        *,
        url: str,
        secret_key: str,
        fields: Sequence[str] = (),
        udfs: Sequence[str] = (),
        display_always: Sequence[str] = (),
        exclude_resources: Sequence[int] | None = None,
        deactivation_url: str | None = None,
        name: str | None = None,
        events: Sequence[str] = ("create", "update", "delete"),
        notification_email: str | None = None,
    ) -> Webhook:
        return await self._sender.run(
            self._register_flow(
                entity,
                url=url,
                secret_key=secret_key,
                fields=fields,
                udfs=udfs,
                display_always=display_always,
                exclude_resources=exclude_resources,
                deactivation_url=deactivation_url,
                name=name,
                events=events,
                notification_email=notification_email,
            )
        )

    register.__doc__ = _REGISTER_DOC

    async def delete(self, entity: str | EntitySpec, webhook_id: int) -> None:
        await self._sender.run(self._delete_webhook_flow(entity, webhook_id))

    async def test(
        self, entity: str | EntitySpec, webhook_id: int, *, secret_key: str | None = None
    ) -> TestDelivery:
        return await self._sender.run(self._test_flow(entity, webhook_id, secret_key))
