"""The identity of a change (entity, id, field, new value) within a window, without a server:
the orders in which three sources can report one change, and what is no change."""

from __future__ import annotations

from py_autotask.plugins import ChangeLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_change_reported_by_three_sources_in_any_order_is_delivered_once() -> None:
    orders = [
        ("updating", "webhook", "client", "sync"),  # the webhook before the write's response
        ("updating", "client", "webhook", "sync"),
        ("sync", "webhook", "client", "updating"),
    ]
    for order in orders:
        log = ChangeLog()
        log.remember("Tickets", 7, {"id": 7, "title": "t", "priority": 3, "status": 1})
        delivered = []
        for source in order:
            if source == "updating":
                log.remember("Tickets", 7, {"priority": 3, "title": "t", "status": 1})
                continue
            old = {"priority": 3, "title": "t"} if source == "sync" else None
            new = {"priority": 1, "title": "t"}
            if source == "webhook":
                new = {"priority": 1, "title": "t", "status": 1}  # display-always fields
            change = log.updated("Tickets", 7, old, new, source)
            if change is not None:
                delivered.append((change.source, change.old, change.new))
        assert delivered == [
            (order[0 if order[0] != "updating" else 1], {"priority": 3}, {"priority": 1})
        ]


def test_a_value_set_again_after_another_is_a_new_change() -> None:
    log = ChangeLog()
    log.remember("Tickets", 1, {"priority": 3})
    got = []
    for value in (1, 2, 1, 1):
        change = log.updated("Tickets", 1, None, {"priority": value}, "client")
        got.append(None if change is None else (change.old["priority"], change.new["priority"]))
    assert got == [(3, 1), (1, 2), (2, 1), None]


def test_read_only_fields_and_equal_forms_of_a_value_are_no_change() -> None:
    log = ChangeLog()
    log.remember(
        "Tickets",
        2,
        {"dueDateTime": "2026-01-02T03:04:05Z", "isVisibleToComanaged": True, "priority": 2},
    )
    change = log.updated(
        "Tickets",
        2,
        None,
        {
            "lastActivityDate": "2026-12-03T10:00:00Z",  # read-only: moves with every change
            "dueDateTime": "2026-01-02T03:04:05.000000Z",  # the same instant
            "isVisibleToComanaged": 1,  # the same bool as SQLite holds it
            "priority": 2.0,
        },
        "sync",
    )
    assert change is None


def test_the_window_and_the_memory_are_bounded() -> None:
    clock = Clock()
    log = ChangeLog(window=60, max_records=2, clock=clock)
    assert log.created("Tickets", 1, {"title": "a"}, "client") is not None
    assert log.created("Tickets", 1, {"title": "a"}, "webhook") is None
    clock.now += 61
    assert log.created("Tickets", 1, {"title": "a"}, "sync") is not None  # outside the window
    log.created("Tickets", 2, {}, "client")
    log.created("Tickets", 3, {}, "client")
    assert len(log) == 2  # the least recently changed record was dropped
    assert log.deleted("Tickets", 3, "client") is not None
    assert log.deleted("Tickets", 3, "sync") is None
