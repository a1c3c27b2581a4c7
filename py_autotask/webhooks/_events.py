"""The event a callout carries: :class:`WebhookEvent`, read from the payload Autotask POSTs.

Payload keys (reference section 13): ``Action`` (Create, Update, Delete, Deactivated), ``Guid``
(the webhook's webhookGUID, not a per-delivery id), ``EntityType`` (the legacy singular name:
``Account`` for Companies, ``InstalledProduct``/``ConfigurationItem``), ``Id``, ``Fields`` (only
the subscribed fields that changed plus the display-always ones), ``EventTime``,
``SequenceNumber``, ``PersonID``. Key casing and the EventTime format are UNCONFIRMED, so the
reader matches keys case-insensitively and parses any datetime text :mod:`py_autotask._values`
reads. The entity name is resolved through :mod:`py_autotask._registry` (which knows the SOAP-era
names); field names are matched case-insensitively against the entity's metadata and spelled as the
metadata spells them; values are read with the project's one read rule (off-type values are kept,
never dropping the event).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from .._model import AutotaskModel, _tolerant_record
from .._registry import entity_names, model_for, spec_for
from .._spec import EntitySpec
from .._values import datetime_or_none
from ..exceptions import AutotaskUnknownEntityError

__all__ = [
    "ACTIONS",
    "PayloadError",
    "WebhookEvent",
    "check_topic",
    "parse_payload",
    "topic_name",
]

#: Autotask's ``Action`` -> the event's action
ACTIONS: Final = {
    "create": "created",
    "created": "created",
    "update": "updated",
    "updated": "updated",
    "delete": "deleted",
    "deleted": "deleted",
    "deactivated": "deactivated",
    "deactivate": "deactivated",
}


class PayloadError(ValueError):
    """An authenticated body that is not a callout payload (the receiver answers 400)."""


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def topic_name(entity_singular: str, action: str) -> str:
    """``("TicketNote", "created")`` -> ``"ticket_note.created"``."""
    return f"{_snake(entity_singular)}.{action}"


@functools.cache
def _topic_entities() -> frozenset[str]:
    """Every topic's entity part: the snake singular of each collection, and ``webhook`` (a
    Deactivated notice of no entity)."""
    return frozenset({_snake(spec_for(name).singular) for name in entity_names()} | {"webhook"})


def check_topic(topic: str) -> str:
    """``topic`` normalised (``"Ticket.Created"`` -> ``"ticket.created"``) when an event can have
    it (``"*"``, ``"<entity>.*"``, ``"<entity>.<action>"``), else ``ValueError`` naming the
    closest real ones."""
    text = topic.strip().lower() if isinstance(topic, str) else ""
    if text == "*":
        return text
    entity, _, action = text.rpartition(".")
    actions = sorted(set(ACTIONS.values()))
    if entity in _topic_entities() and (action == "*" or action in actions):
        return text
    if entity not in _topic_entities():
        close = difflib.get_close_matches(entity, sorted(_topic_entities()), n=3)
    else:
        close = [f"{entity}.{a}" for a in difflib.get_close_matches(action, actions, n=2)]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"no event has the topic {topic!r}: topics are '<entity>.<action>' such as"
        f" 'ticket.created' (actions: {', '.join(actions)}, or '*'), or '*'{hint}"
    )


@dataclass(frozen=True, eq=False)
class WebhookEvent(Mapping[str, Any]):
    """One callout, as handlers receive it.

    ``event.fields`` are the changed (and display-always) fields, named as the metadata spells
    them; ``event.model`` is the entity's generated model built from them (partial: only those
    fields and ``id`` are set); ``event["ticket"]`` (the singular snake name, or the collection
    name) gives the record as far as the event tells it: ``id`` and the fields (the seed plan's
    ``event_data["ticket"]["id"]``), and ``event["Action"]`` etc. the raw payload keys.
    """

    action: str
    entity: str
    id: int | None
    fields: Mapping[str, Any]
    event_time: datetime | None
    sequence: int | None
    person_id: int | None
    webhook_guid: str | None
    raw: Mapping[str, Any] = field(repr=False)
    topic: str
    #: the dedupe key of the receiver's queue: ``guid|seq|<n>`` or ``guid|id|time|action``
    key: str = field(repr=False, default="")
    _model: Any = field(repr=False, default=None, compare=False)

    @property
    def model(self) -> AutotaskModel | None:
        """The generated model of the entity, partial and tolerant (``None`` for a payload of
        no entity, e.g. a Deactivated notice without EntityType)."""
        return self._model  # type: ignore[no-any-return]

    @property
    def singular(self) -> str:
        """The topic's entity part, e.g. ``"ticket"``."""
        return self.topic.rsplit(".", 1)[0]

    def _entity_key(self, key: str) -> bool:
        low = key.lower()
        return low in (self.singular, self.entity.lower(), self.singular.replace("_", ""))

    def __getitem__(self, key: str) -> Any:
        if self._entity_key(key):
            return self.fields if self.id is None else {"id": self.id, **self.fields}
        if key in self.raw:
            return self.raw[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield self.singular
        yield from self.raw

    def __len__(self) -> int:
        return 1 + len(self.raw)


def _lower_keys(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in payload.items()}


def _int_or_none(value: Any, what: str, *, required: bool = False) -> int | None:
    if value is None or value == "":
        if required:
            raise PayloadError(f"the payload has no {what}")
        return None
    if isinstance(value, bool):
        raise PayloadError(f"{what} is not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise PayloadError(f"{what} is not an integer: {value!r}")


def _canonical_fields(spec: EntitySpec | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    if spec is None:
        return dict(fields)
    names = {name.lower(): name for name in spec.fields}
    return {names.get(str(k).lower(), str(k)): v for k, v in fields.items()}


def _build_model(spec: EntitySpec, record_id: int | None, fields: Mapping[str, Any]) -> Any:
    model = model_for(spec)
    data: dict[str, Any] = dict(fields)
    if record_id is not None:
        data.setdefault("id", record_id)
    try:
        return _tolerant_record(model, data)
    except Exception:  # never drop an event for its values: keep them unvalidated
        return model.model_construct(**data)


def resolve_entity(entity_type: Any) -> EntitySpec | None:
    """The spec of a payload's ``EntityType`` (``None`` when absent)."""
    if entity_type is None or entity_type == "":
        return None
    if not isinstance(entity_type, str):
        raise PayloadError(f"EntityType is not a name: {entity_type!r}")
    try:
        return spec_for(entity_type)
    except AutotaskUnknownEntityError:
        raise PayloadError(f"unknown EntityType {entity_type!r}") from None


def dedupe_key(payload: Mapping[str, Any]) -> str:
    """(Guid, SequenceNumber), falling back to (Guid, Id, EventTime, Action)."""
    low = _lower_keys(payload)
    guid = low.get("guid")
    seq = low.get("sequencenumber")
    if seq is not None and seq != "":
        return f"{guid}|seq|{seq}"
    return f"{guid}|{low.get('id')}|{low.get('eventtime')}|{low.get('action')}"


def parse_payload(
    payload: Any, *, default_entity: str | None = None, with_model: bool = True
) -> WebhookEvent:
    """A callout payload (the decoded JSON object) -> :class:`WebhookEvent`; raises
    :class:`PayloadError` for what is not one. ``default_entity`` names the entity when the payload
    has no EntityType (a Deactivated notice from a webhook the server knows)."""
    if not isinstance(payload, Mapping):
        raise PayloadError("the payload is not a JSON object")
    low = _lower_keys(payload)
    action_text = low.get("action")
    action = ACTIONS.get(action_text.strip().lower()) if isinstance(action_text, str) else None
    if action is None:
        raise PayloadError(f"unknown Action {action_text!r}")
    spec = resolve_entity(low.get("entitytype"))
    if spec is None and default_entity:
        spec = resolve_entity(default_entity)
    if spec is None and action != "deactivated":
        raise PayloadError("the payload has no EntityType")
    record_id = _int_or_none(low.get("id"), "Id", required=action != "deactivated")
    raw_fields = low.get("fields")
    if raw_fields is None:
        raw_fields = {}
    if not isinstance(raw_fields, Mapping):
        raise PayloadError("Fields is not an object")
    fields = _canonical_fields(spec, raw_fields)
    guid = low.get("guid")
    if guid is not None and not isinstance(guid, str):
        guid = str(guid)
    event_time = low.get("eventtime")
    when = datetime_or_none(event_time) if isinstance(event_time, str) else None
    try:
        sequence = _int_or_none(low.get("sequencenumber"), "SequenceNumber")
    except PayloadError:
        sequence = None  # tolerated: dedupe falls back to (Guid, Id, EventTime, Action)
    try:
        person = _int_or_none(low.get("personid"), "PersonID")
    except PayloadError:
        person = None
    singular = spec.singular if spec is not None else "webhook"
    return WebhookEvent(
        action=action,
        entity=spec.name if spec is not None else "",
        id=record_id,
        fields=fields,
        event_time=when,
        sequence=sequence,
        person_id=person,
        webhook_guid=guid,
        raw=dict(payload),
        topic=topic_name(singular, action),
        key=dedupe_key(payload),
        _model=_build_model(spec, record_id, fields) if spec is not None and with_model else None,
    )
