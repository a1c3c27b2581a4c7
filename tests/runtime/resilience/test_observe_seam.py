"""The instrumentation seam: every HTTP attempt the server received is reported to the client's
observers exactly once, with its status, its resend count and the reason it was retried."""

from __future__ import annotations

import threading
from typing import Any

from py_autotask import AutotaskClient
from py_autotask.monitoring import JobInfo, Observer, RequestInfo, RequestOutcome

from .conftest import creds, fast_retry, paged, secrets_of


class Recorder(Observer):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ended: list[tuple[RequestInfo, RequestOutcome]] = []
        self.started = 0
        self.rejected: list[str] = []
        self.jobs: list[tuple[str, str | None, str]] = []

    def request_started(self, info: RequestInfo) -> Any:
        with self.lock:
            self.started += 1
        return ("token", info.url)

    def request_ended(self, info: RequestInfo, token: Any, outcome: RequestOutcome) -> None:
        assert token == ("token", info.url)
        with self.lock:
            self.ended.append((info, outcome))

    def rate_limited(self, kind: str, info: RequestInfo | None) -> None:
        self.rejected.append(kind)

    def job_started(self, job: JobInfo) -> Any:
        self.jobs.append((job.kind, job.entity, "start"))

    def job_ended(self, job: JobInfo, token: Any, error: BaseException | None) -> None:
        self.jobs.append((job.kind, job.entity, "end" if error is None else "error"))


class Broken(Observer):
    def request_started(self, info: RequestInfo) -> Any:
        raise RuntimeError("observer bug")


def test_every_attempt_reaches_the_observers_once(fresh: Any) -> None:
    fresh.add_fault(
        {"match": {"entity": "Tickets"}, "effect": {"type": "status", "status": 503}, "count": 2}
    )
    fresh.add_fault({"match": {"entity": "Tickets"}, "effect": "throttle", "count": 1})
    recorder = Recorder()
    with AutotaskClient(**creds(fresh), retry_config=fast_retry(max_retries=6)) as client:
        client.observers.add(Broken())  # a failing observer never breaks the request
        client.observers.add(recorder)
        with client.observers.job("probe", "Tickets") as job:
            ids = [t.id for t in client.tickets.query_all(paged(50))]
        assert job.kind == "probe"
    assert len(ids) == 120
    entries = fresh.journal(entity="Tickets")
    assert recorder.started == len(recorder.ended) == len(entries)
    statuses = sorted(str(o.status) for _, o in recorder.ended)
    assert statuses == sorted(str(e.status) for e in entries)
    retried = [o for _, o in recorder.ended if o.retry_delay is not None]
    assert len(retried) == 3 and all(o.retry_reason for o in retried)
    assert recorder.rejected == ["thread_limit"]
    resends = [i.resend_count for i, _ in recorder.ended]
    assert max(resends) == 3 and resends.count(0) == 3  # 3 pages, the first resent 3 times
    # query_all is a job of its own, inside the caller's
    assert all(i.job is not None and i.job.kind == "query_all" for i, _ in recorder.ended)
    assert all(i.job.parent is job for i, _ in recorder.ended if i.job is not None)
    assert recorder.jobs == [
        ("probe", "Tickets", "start"),
        ("query_all", "Tickets", "start"),
        ("query_all", "Tickets", "end"),
        ("probe", "Tickets", "end"),
    ]
    seen = repr([(i, o) for i, o in recorder.ended])
    for secret in secrets_of(fresh):
        assert secret not in seen
    assert all("?" not in i.url for i, _ in recorder.ended)


def test_an_observer_added_during_an_attempt_gets_no_stranger_token() -> None:
    """Tokens go back to the observers that made them: one added while an attempt is in flight
    neither ends an attempt it never started nor shifts the others' tokens."""
    from py_autotask.monitoring import Observers

    observers = Observers()
    ended: list[tuple[str, Any]] = []

    class Named(Observer):
        def __init__(self, name: str) -> None:
            self.name = name

        def request_started(self, info: RequestInfo) -> Any:
            return f"{self.name}-token"

        def request_ended(self, info: RequestInfo, token: Any, outcome: RequestOutcome) -> None:
            ended.append((self.name, token))

    first, second, late = Named("first"), Named("second"), Named("late")
    observers.add(first)
    observers.add(second)
    info = RequestInfo("GET", "https://h/x", "h", 443, "Tickets", "get", "tickets", 0)
    started = observers.request_started(info)
    observers.remove(first)
    observers.add(late)
    observers.request_ended(info, started, RequestOutcome(200, 0.01, "ok"))
    assert ended == [("first", "first-token"), ("second", "second-token")]
