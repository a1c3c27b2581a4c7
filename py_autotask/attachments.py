"""Upload and download attachments through their parent routes.

>>> with AutotaskClient() as client:  # doctest: +SKIP
...     attachment_id = client.attachments.upload("Tickets", 1234, "report.pdf", title="Report")
...     data = client.attachments.download("Tickets", 1234, attachment_id)

Autotask creates attachments only through the parent (``POST /V1.0/{Parent}/{parentId}/Attachments``
with the file as base64 ``data``) and returns the file content from the parent-scoped
``GET .../Attachments/{id}``; if that answer carries no ``data`` the attachment entity's own root
``GET`` is tried (public clients disagree on which of the two returns it). Which entity serves a
parent's attachments comes from the generated :class:`~py_autotask._spec.EntitySpec` routes, never
from a table here.

Size limits are checked **before** anything is sent: Autotask accepts 6-7 MB per file (the default
limit here is 6,000,000 bytes, adjustable with :attr:`Attachments.max_file_bytes` or ``max_bytes=``)
and 10,000,000 bytes of attachments per 5 minutes per database (uploads made by this client are
counted against :attr:`Attachments.window_bytes`; other integrations' uploads are invisible to it).
"""

from __future__ import annotations

import base64
import binascii
import collections
import functools
import mimetypes
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from typing_extensions import TypedDict, Unpack

from . import _core
from ._core import ClientCore
from ._sender import AsyncSender, Flow, Sender, request
from ._spec import EntitySpec, RouteSpec
from .exceptions import AutotaskAPIError, AutotaskConfigError

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_WINDOW_BYTES",
    "DEFAULT_WINDOW_SECONDS",
    "AsyncAttachments",
    "AttachmentFile",
    "Attachments",
    "UploadOptions",
    "attachment_route",
]

#: Per-file limit checked before upload (Autotask documents 6-7 MB per file).
DEFAULT_MAX_FILE_BYTES: Final = 6_000_000
#: Autotask refuses attachment creation for 5 minutes after 10,000,000 bytes in 5 minutes.
DEFAULT_WINDOW_BYTES: Final = 10_000_000
DEFAULT_WINDOW_SECONDS: Final = 300.0

FileArg = str | os.PathLike[str] | bytes | bytearray | memoryview


@functools.cache
def _attachment_routes() -> dict[str, tuple[EntitySpec, RouteSpec]]:
    """Parent collection (lower case) -> (attachment entity spec, its parent route), read from the
    generated specs of every collection whose routes include an ``Attachments`` child."""
    from py_autotask_generated import entities

    found: dict[str, tuple[EntitySpec, RouteSpec]] = {}
    for name in sorted(entities.MODULES):
        if not name.lower().endswith("attachments"):
            continue
        spec = entities.spec(name)
        for route in spec.parent_routes:
            if route.child.lower() == "attachments" and "create" in route.operations:
                found.setdefault(route.parent.lower(), (spec, route))
    return found


def attachment_route(parent: str) -> tuple[EntitySpec, RouteSpec]:
    """The attachment entity and route for a parent collection (``"Tickets"``, ``"tickets"``,
    ``"Ticket"``); :class:`AutotaskConfigError` naming the valid parents otherwise."""
    from py_autotask_generated import entities

    if not isinstance(parent, str) or not parent.strip():
        raise AutotaskConfigError("parent must be a collection name such as 'Tickets'")
    routes = _attachment_routes()
    resolved = entities.resolve_name(parent.strip()) or parent.strip()
    hit = routes.get(resolved.lower())
    if hit is None:
        names = sorted(route.parent for _spec, route in routes.values())
        raise AutotaskConfigError(
            f"{parent!r} has no attachments route; parents with attachments: {', '.join(names)}"
        )
    return hit


class UploadOptions(TypedDict, total=False):
    """Options of :meth:`Attachments.upload` (all optional)."""

    title: str | None  #: the attachment's title (default: the file name)
    file_name: str | None  #: the name stored (default: the path's name, or attachment.bin)
    content_type: str | None  #: MIME type (default: guessed from the file name)
    publish: int | None  #: the publish picklist value (default 1: all Autotask users)
    max_bytes: int | None  #: per-call size limit (default: Attachments.max_file_bytes)
    extra: Mapping[str, Any] | None  #: more fields, e.g. {"ticketNoteID": 5}


@dataclass(frozen=True)
class AttachmentFile:
    """A downloaded attachment: the decoded bytes plus the record's descriptive fields."""

    id: int
    data: bytes
    title: str | None
    file_name: str | None
    content_type: str | None
    record: Mapping[str, Any]

    def __repr__(self) -> str:
        return (
            f"AttachmentFile(id={self.id}, title={self.title!r}, file_name={self.file_name!r}, "
            f"content_type={self.content_type!r}, size={len(self.data)})"
        )


def _field(spec: EntitySpec, name: str) -> str | None:
    """The API spelling of ``name`` when the entity has it (or when the spec lists no fields)."""
    if not spec.fields:
        return name
    for api_name in spec.fields:
        if api_name.lower() == name.lower():
            return api_name
    return None


def _get(record: Mapping[str, Any], name: str) -> Any:
    for key, value in record.items():
        if key.lower() == name.lower():
            return value
    return None


class _AttachmentsBase:
    """Shared, I/O-free parts: reading the file, limit checks and body building."""

    def __init__(self) -> None:
        self.max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
        self.window_bytes: int = DEFAULT_WINDOW_BYTES
        self.window_seconds: float = DEFAULT_WINDOW_SECONDS
        self._sent: collections.deque[tuple[float, int]] = collections.deque()
        self._lock = threading.Lock()

    def _read(self, file: FileArg, file_name: str | None, limit: int) -> tuple[bytes, str]:
        if isinstance(file, (bytes, bytearray, memoryview)):
            data = bytes(file)
            name = file_name or "attachment.bin"
            if len(data) > limit:
                raise self._too_large(name, len(data), limit)
            return data, name
        if isinstance(file, (str, os.PathLike)):
            path = Path(file)
            try:
                size = path.stat().st_size
            except OSError as exc:
                raise AutotaskConfigError(
                    f"cannot read attachment file {str(path)!r}: {exc}"
                ) from exc
            name = file_name or path.name
            if size > limit:  # checked before reading: a huge file is never loaded
                raise self._too_large(str(path), size, limit)
            data = path.read_bytes()
            if len(data) > limit:
                raise self._too_large(str(path), len(data), limit)
            return data, name
        raise AutotaskConfigError(f"attachment must be a path or bytes, not {type(file).__name__}")

    @staticmethod
    def _too_large(name: str, size: int, limit: int) -> AutotaskConfigError:
        return AutotaskConfigError(
            f"attachment {name!r} is {size:,} bytes; the per-file limit is {limit:,} bytes "
            "(Autotask accepts 6-7 MB per file). Nothing was sent."
        )

    def _reserve(self, name: str, size: int) -> None:
        """Count an upload against the 5-minute window, or raise before sending."""
        now = time.monotonic()
        with self._lock:
            while self._sent and now - self._sent[0][0] > self.window_seconds:
                self._sent.popleft()
            used = sum(s for _t, s in self._sent)
            if self.window_bytes and used + size > self.window_bytes:
                wait = self.window_seconds - (now - self._sent[0][0]) if self._sent else 0.0
                raise AutotaskConfigError(
                    f"attachment {name!r} ({size:,} bytes) would exceed Autotask's limit of "
                    f"{self.window_bytes:,} attachment bytes per {self.window_seconds / 60:g} "
                    f"minutes ({used:,} bytes uploaded by this client in the window); retry in "
                    f"about {max(wait, 0.0):.0f}s. Nothing was sent."
                )
            self._sent.append((now, size))

    def _release(self, size: int) -> None:
        with self._lock:
            for i, (_t, s) in enumerate(reversed(self._sent)):
                if s == size:
                    del self._sent[len(self._sent) - 1 - i]
                    break

    def _upload_request(
        self,
        parent: str,
        parent_id: int,
        file: FileArg,
        *,
        title: str | None,
        file_name: str | None,
        content_type: str | None,
        publish: int | None,
        max_bytes: int | None,
        extra: Mapping[str, Any] | None,
    ) -> tuple[EntitySpec, _core.ApiRequest, str, int]:
        spec, route = attachment_route(parent)
        limit = self.max_file_bytes if max_bytes is None else max_bytes
        data, name = self._read(file, file_name, limit)
        body: dict[str, Any] = {}
        values: dict[str, Any] = {
            "title": title or name,
            "fullPath": name,
            "attachmentType": "FILE_ATTACHMENT",
            "publish": publish,
            "contentType": content_type or mimetypes.guess_type(name)[0],
        }
        for key, value in values.items():
            api_name = _field(spec, key)
            if api_name is not None and value is not None:
                body[api_name] = value
        body.update(dict(extra or {}))
        body[_field(spec, "data") or "data"] = base64.b64encode(data).decode("ascii")
        request = _core.child_write_request(spec, route, parent_id, "create", body)
        return spec, request, name, len(data)

    def _download_request(
        self, parent: str, parent_id: int, attachment_id: int
    ) -> tuple[EntitySpec, _core.ApiRequest]:
        spec, route = attachment_route(parent)
        parent_route = RouteSpec(
            route.parent, route.child, route.parent_id_field, route.operations | {"get"}
        )
        return spec, _core.child_get_request(spec, parent_route, parent_id, attachment_id)

    @staticmethod
    def _root_request(spec: EntitySpec, attachment_id: int) -> _core.ApiRequest | None:
        if "get" not in spec.root_operations:
            return None
        return _core.get_request(spec, attachment_id)

    @staticmethod
    def _item(data: Any) -> Mapping[str, Any] | None:
        if isinstance(data, Mapping):
            item = data.get("item")
            if isinstance(item, Mapping):
                return item
        return None

    @staticmethod
    def _file(attachment_id: int, record: Mapping[str, Any]) -> AttachmentFile | None:
        raw = _get(record, "data")
        if not isinstance(raw, str) or not raw:
            return None
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AutotaskConfigError(
                f"attachment {attachment_id}: the server's data is not valid base64 ({exc})"
            ) from exc
        name = _get(record, "fullPath")
        return AttachmentFile(
            id=attachment_id,
            data=data,
            title=_get(record, "title"),
            file_name=str(name) if name else None,
            content_type=_get(record, "contentType"),
            record={k: v for k, v in record.items() if k.lower() != "data"},
        )

    @staticmethod
    def _missing(parent: str, parent_id: int, attachment_id: int, found: bool) -> AutotaskAPIError:
        what = "has no file data" if found else "does not exist (or is not visible to this user)"
        return AutotaskAPIError(
            f"attachment {attachment_id} of {parent} {parent_id} {what}",
            status_code=200,
            hint="check the parent, parent id and attachment id",
        )

    # the operations, written once as flows

    def _upload(
        self,
        reader: ClientCore,
        parent: str,
        parent_id: int,
        file: FileArg,
        options: UploadOptions,
    ) -> Flow[int]:
        _spec, req, name, size = self._upload_request(
            parent,
            parent_id,
            file,
            title=options.get("title"),
            file_name=options.get("file_name"),
            content_type=options.get("content_type"),
            publish=options.get("publish", 1),
            max_bytes=options.get("max_bytes"),
            extra=options.get("extra"),
        )
        self._reserve(name, size)
        try:
            return reader.read_item_id((yield from request(req)))
        except (AutotaskConfigError, AutotaskAPIError):
            self._release(size)  # rejected: the bytes were not accepted
            raise

    def _fetch(
        self, reader: ClientCore, parent: str, parent_id: int, attachment_id: int
    ) -> Flow[AttachmentFile]:
        spec, req = self._download_request(parent, parent_id, attachment_id)
        item = self._item(reader.read_json((yield from request(req))))
        result = self._file(attachment_id, item) if item is not None else None
        if result is None:
            root = self._root_request(spec, attachment_id)
            if root is not None:
                root_item = self._item(reader.read_json((yield from request(root))))
                if root_item is not None:
                    item = root_item
                    result = self._file(attachment_id, root_item)
        if result is None:
            raise self._missing(spec.name, parent_id, attachment_id, item is not None)
        return result


class Attachments(_AttachmentsBase):
    """``client.attachments``: upload and download files through their parent routes (sync)."""

    def __init__(self, sender: Sender) -> None:
        super().__init__()
        self._sender = sender

    def upload(
        self, parent: str, parent_id: int, file: FileArg, **options: Unpack[UploadOptions]
    ) -> int:
        """Attach ``file`` (a path or bytes) to record ``parent_id`` of ``parent`` (``"Tickets"``);
        returns the attachment id. ``options`` (:class:`UploadOptions`): ``title`` defaults to
        the file name; ``publish`` 1 (default) = all Autotask users; ``extra`` adds fields (e.g.
        ``{"ticketNoteID": 5}``). Raises :class:`AutotaskConfigError` before sending when the file
        exceeds the size limits. Exactly-once: a create whose answer was lost is looked up before
        any resend."""
        return self._sender.run(self._upload(self._sender.reader, parent, parent_id, file, options))

    def fetch(self, parent: str, parent_id: int, attachment_id: int) -> AttachmentFile:
        """The attachment's bytes and descriptive fields."""
        flow = self._fetch(self._sender.reader, parent, parent_id, attachment_id)
        return self._sender.run(flow)

    def download(self, parent: str, parent_id: int, attachment_id: int) -> bytes:
        """The attachment's file content."""
        return self.fetch(parent, parent_id, attachment_id).data

    def download_to(
        self, parent: str, parent_id: int, attachment_id: int, path: str | os.PathLike[str]
    ) -> Path:
        """Write the attachment to ``path`` (a directory: the attachment's file name inside it)."""
        found = self.fetch(parent, parent_id, attachment_id)
        return _write(found, Path(path))


class AsyncAttachments(_AttachmentsBase):
    """Async twin of :class:`Attachments`."""

    def __init__(self, sender: AsyncSender) -> None:
        super().__init__()
        self._sender = sender

    async def upload(
        self, parent: str, parent_id: int, file: FileArg, **options: Unpack[UploadOptions]
    ) -> int:
        """Async twin of :meth:`Attachments.upload`."""
        flow = self._upload(self._sender.reader, parent, parent_id, file, options)
        return await self._sender.run(flow)

    async def fetch(self, parent: str, parent_id: int, attachment_id: int) -> AttachmentFile:
        """Async twin of :meth:`Attachments.fetch`."""
        flow = self._fetch(self._sender.reader, parent, parent_id, attachment_id)
        return await self._sender.run(flow)

    async def download(self, parent: str, parent_id: int, attachment_id: int) -> bytes:
        """Async twin of :meth:`Attachments.download`."""
        return (await self.fetch(parent, parent_id, attachment_id)).data

    async def download_to(
        self, parent: str, parent_id: int, attachment_id: int, path: str | os.PathLike[str]
    ) -> Path:
        """Async twin of :meth:`Attachments.download_to`."""
        found = await self.fetch(parent, parent_id, attachment_id)
        return _write(found, Path(path))


def _write(found: AttachmentFile, path: Path) -> Path:
    if path.is_dir():
        name = Path(found.file_name or f"attachment-{found.id}").name or f"attachment-{found.id}"
        path = path / name
    path.write_bytes(found.data)
    return path
