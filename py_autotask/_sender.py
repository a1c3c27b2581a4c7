"""The seam every feature is built on: a :class:`Sender` and flows.

Features (export, sync, bulk, attachments, the CLI, ...) never see the client. They are given a
:class:`Sender` (``client.sender``) or an :class:`AsyncSender` (``async_client.sender``): *send one
request through the whole pipeline* (validation, cache, pacing, retries, circuit breaker, zones,
exactly-once creates) and *read what came back* with :attr:`Sender.reader`.

Logic that sync and async callers both need is written once as a **flow**: a generator that yields
an :class:`~py_autotask._core.ApiRequest` (and receives its :class:`~py_autotask._core.ApiResponse`,
or has the sending error thrown into it), a :class:`Sleep`, or a :class:`Blocking` call, and returns
its result::

    def count_open(spec: EntitySpec) -> Flow[int]:
        response = yield from request(count_request(spec, {"filter": [...]}))
        return reader.read_count(response)

    n = client.sender.run(count_open(spec))                  # sync
    n = await async_client.sender.run(count_open(spec))      # async

Only :func:`drive` and :func:`adrive` (and the page iterators below) know how to wait; everything
else is I/O-free code in a generator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, TypeVar, cast

from ._core import ApiRequest, ApiResponse, ClientCore

__all__ = [
    "AsyncSender",
    "Blocking",
    "Effect",
    "Flow",
    "Sender",
    "Sleep",
    "adrive",
    "aiter_pages",
    "arun_effects",
    "blocking",
    "collect_pages",
    "drive",
    "iter_pages",
    "pause",
    "request",
    "run_effects",
]

T = TypeVar("T")
P = TypeVar("P")
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` (``time.sleep`` in sync code, ``asyncio.sleep`` in async code)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Blocking:
    """Call ``fn(*args)``, which may block (disk, Redis): sync code calls it; async code runs it on
    a worker thread unless ``cheap`` (an in-memory operation) says it is not worth one."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    cheap: bool = False


Effect: TypeAlias = ApiRequest | Sleep | Blocking
#: A generator of effects returning ``T``; see the module docstring.
Flow: TypeAlias = Generator[Effect, Any, T]


def request(req: ApiRequest) -> Generator[Effect, Any, ApiResponse]:
    """``response = yield from request(req)``: send ``req``, typed."""
    response: ApiResponse = yield req
    return response


def pause(seconds: float) -> Generator[Effect, Any, None]:
    """``yield from pause(s)``: wait ``s`` seconds (skipped when ``s <= 0``)."""
    if seconds > 0:
        yield Sleep(seconds)


def blocking(fn: Callable[..., T], *args: Any, cheap: bool = False) -> Generator[Effect, Any, T]:
    """``value = yield from blocking(fn, a, b)``: a call that may block, typed."""
    value: T = yield Blocking(fn, args, cheap)
    return value


def _advance(
    flow: Generator[Any, Any, T], value: Any, error: BaseException | None
) -> tuple[bool, Any]:
    """``(True, result)`` when ``flow`` has finished, else ``(False, its next effect)``."""
    try:
        return False, flow.throw(error) if error is not None else flow.send(value)
    except StopIteration as stop:
        return True, stop.value


def run_effects(flow: Generator[E, Any, T], perform: Callable[[E], Any]) -> T:
    """Run ``flow`` to its end in this thread, ``perform``-ing each effect it yields (the result is
    sent back in, an exception thrown in). :func:`drive` is this with the three effects above;
    a feature with effects of its own (bulk's rows run concurrently) passes its own ``perform``."""
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            done, effect = _advance(flow, value, error)
            if done:
                return cast("T", effect)
            try:
                value, error = perform(effect), None
            except Exception as exc:  # handed to the flow, which may handle it
                value, error = None, exc
    finally:
        flow.close()


async def arun_effects(flow: Generator[E, Any, T], perform: Callable[[E], Awaitable[Any]]) -> T:
    """Async twin of :func:`run_effects` (``perform`` is awaited)."""
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            done, effect = _advance(flow, value, error)
            if done:
                return cast("T", effect)
            try:
                value, error = await perform(effect), None
            except Exception as exc:  # handed to the flow, which may handle it
                value, error = None, exc
    finally:
        flow.close()


def drive(
    flow: Flow[T],
    send: Callable[[ApiRequest], ApiResponse],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``flow`` to its end in this thread."""

    def perform(effect: Effect) -> Any:
        if isinstance(effect, ApiRequest):
            return send(effect)
        if isinstance(effect, Sleep):
            return sleep(effect.seconds)
        return effect.fn(*effect.args)

    return run_effects(flow, perform)


async def adrive(
    flow: Flow[T],
    send: Callable[[ApiRequest], Awaitable[ApiResponse]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Async twin of :func:`drive`: requests are awaited, blocking calls go to a thread."""

    async def perform(effect: Effect) -> Any:
        if isinstance(effect, ApiRequest):
            return await send(effect)
        if isinstance(effect, Sleep):
            return await sleep(effect.seconds)
        if effect.cheap:
            return effect.fn(*effect.args)
        return await asyncio.to_thread(effect.fn, *effect.args)

    return await arun_effects(flow, perform)


class Sender(Protocol):
    """What a synchronous feature is given (``AutotaskClient.sender``)."""

    @property
    def reader(self) -> ClientCore:
        """Turns responses into results or errors (``read_page``, ``read_json``, ``follow``...)."""
        ...

    def send(self, request: ApiRequest) -> ApiResponse:
        """Send one request through the whole pipeline; the raw response (any status)."""
        ...

    def run(self, flow: Flow[T]) -> T:
        """Drive a flow to its end."""
        ...


class AsyncSender(Protocol):
    """What an asynchronous feature is given (``AsyncAutotaskClient.sender``)."""

    @property
    def reader(self) -> ClientCore:
        """Turns responses into results or errors (``read_page``, ``read_json``, ``follow``...)."""
        ...

    async def send(self, request: ApiRequest) -> ApiResponse:
        """Send one request through the whole pipeline; the raw response (any status)."""
        ...

    async def run(self, flow: Flow[T]) -> T:
        """Drive a flow to its end."""
        ...


#: Reads one page: its records (in whatever form the caller wants) and its ``nextPageUrl``.
PageRead = Callable[[ApiResponse], "tuple[P, str | None]"]


def iter_pages(sender: Sender, first: ApiRequest, read: PageRead[P]) -> Iterator[P]:
    """Every page from ``first`` on, one in memory at a time, following ``nextPageUrl`` to the end
    (a failing page raises; nothing is silently truncated). The one page loop of the library."""
    follow = sender.reader.follow
    next_request: ApiRequest | None = first
    while next_request is not None:
        response = sender.send(next_request)
        page, next_url = read(response)
        yield page
        next_request = follow(response, next_url)


async def aiter_pages(
    sender: AsyncSender, first: ApiRequest, read: PageRead[P]
) -> AsyncIterator[P]:
    """Async twin of :func:`iter_pages`."""
    follow = sender.reader.follow
    next_request: ApiRequest | None = first
    while next_request is not None:
        response = await sender.send(next_request)
        page, next_url = read(response)
        yield page
        next_request = follow(response, next_url)


def collect_pages(reader: ClientCore, first: ApiRequest, read: PageRead[P]) -> Flow[list[P]]:
    """Every page from ``first`` on, as a flow returning them all: :func:`iter_pages` for logic
    written once whose answers fit in memory (bulk's batched ``id in [...]`` prefetches and token
    lookups). A failing page raises; nothing is silently truncated."""
    pages: list[P] = []
    next_request: ApiRequest | None = first
    while next_request is not None:
        response = yield from request(next_request)
        page, next_url = read(response)
        pages.append(page)
        next_request = reader.follow(response, next_url)
    return pages
