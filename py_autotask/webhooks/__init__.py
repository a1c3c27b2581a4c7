"""Autotask webhooks: register them (:class:`WebhookRegistry`, through the client's limits),
receive callouts (:class:`WebhookServer`), run handlers on them from a durable queue
(:class:`EventQueue`), and publish them to the event bus.

Install the server's dependencies with ``pip install "py-autotask[webhooks]"`` (the event model,
the queue and the ASGI app itself need nothing beyond the core; ``start()``/``run()`` use uvicorn).

Mounted in another ASGI application (``Mount("/hooks", app=server.app)``), whose lifespan does not
reach mounted apps, the workers start with the first request; call ``await server.start_workers()``
and ``await server.stop_workers()`` in the host's lifespan to resume a queue at start-up and stop
cleanly.
"""

from __future__ import annotations

from ._events import PayloadError, WebhookEvent, parse_payload
from ._queue import EventQueue, ParkedEvent, default_queue_path
from ._register import (
    AsyncWebhookRegistry,
    DeactivatedWebhook,
    FieldCatalog,
    TestDelivery,
    Webhook,
    WebhookCollections,
    WebhookRegistrationError,
    WebhookRegistry,
    webhook_collections,
    webhook_entities,
)
from ._server import WebhookHandler, WebhookServer

__all__ = [
    "AsyncWebhookRegistry",
    "DeactivatedWebhook",
    "EventQueue",
    "FieldCatalog",
    "ParkedEvent",
    "PayloadError",
    "TestDelivery",
    "Webhook",
    "WebhookCollections",
    "WebhookEvent",
    "WebhookHandler",
    "WebhookRegistrationError",
    "WebhookRegistry",
    "WebhookServer",
    "default_queue_path",
    "parse_payload",
    "webhook_collections",
    "webhook_entities",
]
