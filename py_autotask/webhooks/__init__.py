"""Autotask webhooks: receive callouts (:class:`WebhookServer`), run handlers on them from a
durable queue (:class:`EventQueue`), and publish them to the event bus.

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
from ._server import Handler, WebhookServer

# Registration (WebhookRegistry, Webhook; py_autotask/webhooks/_register.py) is added here by the
# integrator, from the whreg slice.

__all__ = [
    "EventQueue",
    "Handler",
    "ParkedEvent",
    "PayloadError",
    "WebhookEvent",
    "WebhookServer",
    "default_queue_path",
    "parse_payload",
]
