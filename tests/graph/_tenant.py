"""The graph tests' tenant: the simulator's seeded tickets are realistic (by the snapshot date
most are Complete and a stalled 30 % open: docs/simulator.md, "Seeded ticket structure"), so the
seed plan's ``tickets(status: "open", priority: [1, 2])`` selects few of a small tenant. :func:`reopen_half` puts every second
ticket back in status New (value 1), as a busy tenant's current tickets would be, so the queries
have many tickets to load relationships for."""

from __future__ import annotations

from typing import Any

NEW = 1

#: the seed plan's GraphQL example (section 6.2), as written
SEED_QUERY = """
{
    tickets(status: "open", priority: [1, 2]) {
        id
        title
        priority
        company {
            name
            isActive
        }
        assignedResource {
            firstName
            lastName
            email
        }
        timeEntries {
            hours
            billableHours
            dateWorked
        }
    }
}
"""


def reopen_half(sim: Any) -> None:
    """Every second seeded ticket (by id) in status New; call right after starting ``sim`` (a
    ``sim.reset()`` brings the seeded statuses back)."""
    tickets = sim.state.schema.entity("Tickets")
    store = sim.state.store
    last = store.next_id(tickets)
    for item_id in range(2, last, 2):
        record = store.get(tickets, item_id)
        if record is not None:
            store.put(tickets, {**record, "status": NEW})
