"""Thread limit (3 per integration code + endpoint) and the rolling hourly budget, on real sockets."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sim_helpers import ALL_ROWS, api_client, errors_of

from py_autotask.simulator import Simulator


def _parallel(sim: Simulator, paths: list[str]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(paths))

    def one(path: str) -> httpx.Response:
        with api_client(sim) as c:
            c.get("zoneInformation", params={"user": sim.credentials["username"]})  # connect first
            barrier.wait()
            return c.post(path, json=ALL_ROWS)

    with ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(one, paths))


def test_eight_concurrent_requests_leave_exactly_three_in_flight() -> None:
    # A simulator of its own: on the shared one, a slow request left over from another test can
    # still hold a Tickets slot and take one of the three.
    with Simulator(seed=42, profile="tiny", hourly_threshold=0) as sim:
        _eight_concurrent(sim)


def _eight_concurrent(sim: Simulator) -> None:
    sim.faults.add(match={"entity": "Tickets"}, effect={"type": "latency", "seconds": 1.0})
    responses = _parallel(sim, ["Tickets/query"] * 8)
    ok = [r for r in responses if r.status_code == 200]
    throttled = [r for r in responses if r.status_code == 429]
    assert len(ok) == 3 and len(throttled) == 5
    for r in throttled:
        assert "Itgenatr005" in errors_of(r)[0] and "Thread Threshold Exceeded" in errors_of(r)[0]
    entries = sim.journal(entity="Tickets", operation="query")
    assert len(entries) == 8
    admitted = [e for e in entries if e.status == 200]
    rejected = [e for e in entries if e.outcome == "rejected_thread"]
    assert sorted(e.in_flight_at_start for e in admitted) == [0, 1, 2]
    assert len(rejected) == 5 and all(e.in_flight_at_start == 3 for e in rejected)
    # the three admitted requests really overlapped
    assert max(e.started_at for e in admitted) < min(e.finished_at for e in admitted)


def test_child_urls_count_against_the_child_entity(sim: Simulator) -> None:
    sim.reset()
    sim.faults.add(match={"entity": "TicketNotes"}, effect={"type": "latency", "seconds": 0.6})

    def get(path: str) -> httpx.Response:
        with api_client(sim) as c:
            return c.get(path) if "/Notes" in path else c.post(path, json=ALL_ROWS)

    with ThreadPoolExecutor(5) as pool:
        held = [pool.submit(get, "Tickets/1/Notes") for _ in range(3)]
        import time

        time.sleep(0.25)
        fourth = pool.submit(get, "TicketNotes/query").result()
        other = pool.submit(get, "Tickets/query").result()
        statuses = [f.result().status_code for f in held]
    assert statuses == [200, 200, 200]
    assert fourth.status_code == 429 and "Itgenatr005" in errors_of(fourth)[0]
    assert other.status_code == 200  # a different endpoint has its own three threads


def test_other_integration_code_has_its_own_threads() -> None:
    with Simulator(profile="tiny", integration_codes=["CODEA", "CODEB"]) as sim:
        sim.faults.add(match={"entity": "Tickets"}, effect={"type": "latency", "seconds": 0.5})

        def one(code: str) -> int:
            with api_client(sim, ApiIntegrationCode=code) as c:
                return c.post("Tickets/query", json=ALL_ROWS).status_code

        with ThreadPoolExecutor(6) as pool:
            codes = ["CODEA"] * 3 + ["CODEB"] * 3
            assert list(pool.map(one, codes)) == [200] * 6


def test_hourly_budget_latency_steps_and_rejection_on_the_virtual_clock() -> None:
    # 20 requests per 60 virtual minutes; 100x time scale keeps the 0.5 s / 1 s steps short.
    with (
        Simulator(profile="tiny", hourly_threshold=20, time_scale=100.0) as sim,
        api_client(sim) as c,
    ):
        statuses = [c.get("Tickets/1").status_code for _ in range(20)]
        assert statuses == [200] * 20
        latencies = [e.budget_latency for e in sim.journal(entity="Tickets")]
        assert latencies == [0.0] * 10 + [0.5] * 5 + [1.0] * 5
        rejected = c.get("Tickets/1")
        assert rejected.status_code == 429
        assert "threshold" in errors_of(rejected)[0].lower()
        assert c.get("ThresholdInformation").status_code == 429
        sim.clock.advance(3601)
        info = c.get("ThresholdInformation")
        assert info.status_code == 200
        assert info.json() == {
            "externalRequestThreshold": 20,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": 1,  # counts itself
        }
        # zone lookups are exempt and need no credentials
        for _ in range(5):
            r = httpx.get(sim.url + "zoneInformation", params={"user": sim.credentials["username"]})
            assert r.status_code == 200
        assert c.get("ThresholdInformation").json()["currentTimeframeRequestCount"] == 2


def test_rolling_window_releases_old_requests() -> None:
    with (
        Simulator(profile="tiny", hourly_threshold=4, time_scale=20.0) as sim,
        api_client(sim) as c,
    ):
        sim.preload_threshold(2, age_seconds=3000)  # 50 virtual minutes ago
        assert [c.get("Version").status_code for _ in range(2)] == [200, 200]
        assert c.get("Version").status_code == 429
        sim.clock.advance(601)  # the two preloaded requests leave the 60-minute window
        assert c.get("Version").status_code == 200


def test_preloaded_usage_applies_latency_immediately() -> None:
    with Simulator(profile="tiny", time_scale=50.0) as sim, api_client(sim) as c:
        r = httpx.post(sim.base_url + "/_sim/threshold", json={"count": 7500})
        assert r.json()["currentTimeframeRequestCount"] == 7500
        c.get("Tickets/1")
        assert sim.journal(entity="Tickets")[-1].budget_latency == 1.0
        assert c.get("ThresholdInformation").json()["currentTimeframeRequestCount"] == 7502


def test_thread_limit_status_is_configurable() -> None:
    with Simulator(profile="tiny", thread_limit=1, thread_limit_status=500) as sim:
        sim.faults.add(match={"entity": "Tickets"}, effect={"type": "latency", "seconds": 0.4})
        responses = _parallel(sim, ["Tickets/query"] * 2)
        assert sorted(r.status_code for r in responses) == [200, 500]
        bad = next(r for r in responses if r.status_code == 500)
        assert "Itgenatr005" in json.dumps(bad.json())


def test_reset_waits_for_abandoned_requests_so_they_do_not_hold_slots_in_the_next_test(
    sim: Simulator,
) -> None:
    sim.reset()
    sim.faults.add(match={"entity": "Companies"}, effect={"type": "latency", "seconds": 0.6})
    served: list[int] = []

    def slow() -> None:
        with api_client(sim) as c:
            served.append(c.post("Companies/query", json=ALL_ROWS).status_code)

    leftover = threading.Thread(target=slow)
    leftover.start()
    deadline = time.monotonic() + 5
    while not sim.state.threads.snapshot() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sim.state.threads.snapshot(), "the slow request never got a slot"
    started = time.monotonic()
    sim.reset()  # the "next test" starts while the request is still sleeping
    assert time.monotonic() - started >= 0.2  # it waited for the request ...
    assert sim.state.threads.snapshot() == {}  # ... which no longer holds a slot
    assert sim.journal() == []  # nor lands in the next test's journal
    leftover.join()
    assert served == [200]
    # three new slow requests are all admitted (a held slot would have turned one into Itgenatr005)
    sim.faults.add(match={"entity": "Companies"}, effect={"type": "latency", "seconds": 0.3})
    responses = _parallel(sim, ["Companies/query"] * 3)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert sorted(e.in_flight_at_start for e in sim.journal(entity="Companies")) == [0, 1, 2]


def test_control_plane_reset_also_waits_for_requests_in_flight(sim: Simulator) -> None:
    sim.reset()
    sim.faults.add(match={"entity": "Companies"}, effect={"type": "latency", "seconds": 0.5})

    def slow() -> None:
        with api_client(sim) as c:
            c.post("Companies/query", json=ALL_ROWS)

    leftover = threading.Thread(target=slow)
    leftover.start()
    deadline = time.monotonic() + 5
    while not sim.state.threads.snapshot() and time.monotonic() < deadline:
        time.sleep(0.005)
    with httpx.Client(base_url=sim.base_url) as c:
        assert c.post("/_sim/reset", json={"drainTimeout": "soon"}).status_code == 400
        reply = c.post("/_sim/reset", json={})
    assert reply.status_code == 200 and reply.json()["ok"] is True
    assert sim.state.threads.snapshot() == {} and sim.journal() == []
    leftover.join()


def test_a_request_is_finished_and_its_slot_free_once_its_response_has_arrived(
    sim: Simulator,
) -> None:
    # A client that sends its next request (or reads the journal) the moment a response arrives
    # must not find the previous request still holding its thread slot or unfinished.
    sim.reset()
    late: list[str] = []
    with api_client(sim) as c:
        for i in range(300):
            assert c.get("Companies/0").status_code in (200, 404)
            entry = sim.journal()[-1]
            if entry.finished_at == 0.0:
                late.append(f"request {i}: finished_at not set")
            if sim.state.threads.snapshot():
                late.append(f"request {i}: slot still held {sim.state.threads.snapshot()}")
    assert late == []
