"""FairQueue: round-robin between clients, positions, bound, removal."""
from __future__ import annotations

import pytest

from server.scheduler import FairQueue, QueueFull


def drain(q: FairQueue) -> list[str]:
    out = []
    while (item := q.pop()) is not None:
        out.append(item[1])
    return out


def test_round_robin_between_clients():
    q: FairQueue[int] = FairQueue(100)
    for i in range(10):
        q.push("greedy", f"g{i}", i)
    q.push("polite", "p0", 0)
    q.push("third", "t0", 0)
    q.push("polite", "p1", 0)
    order = drain(q)
    assert order[:6] == ["g0", "p0", "t0", "g1", "p1", "g2"]
    assert order[6:] == [f"g{i}" for i in range(3, 10)]


def test_newcomer_goes_before_the_client_just_served():
    # One worker: greedy's first job starts at once (its queue empties), the rest queue behind it.
    q: FairQueue[int] = FairQueue(100)
    q.push("greedy", "g0", 0)
    assert q.pop()[1] == "g0"
    for i in range(1, 4):
        q.push("greedy", f"g{i}", i)
    q.push("polite", "p0", 0)
    q.push("third", "t0", 0)
    assert q.positions()["p0"] == 0
    assert drain(q) == ["p0", "t0", "g1", "g2", "g3"]
    # and while greedy still has jobs queued when it is served
    q.push("greedy", "g4", 0)
    q.push("greedy", "g5", 0)
    assert q.pop()[1] == "g4"
    q.push("polite", "p1", 0)
    assert drain(q) == ["p1", "g5"]


def test_positions_match_pop_order():
    q: FairQueue[int] = FairQueue(100)
    for client, job in [("a", "a0"), ("a", "a1"), ("b", "b0"), ("a", "a2"), ("c", "c0"), ("b", "b1")]:
        q.push(client, job, 0)
    q.pop()  # a0 runs; a goes to the back
    positions = q.positions()
    expected = drain_copy(q)
    assert sorted(positions, key=positions.get) == expected
    assert positions[expected[0]] == 0


def drain_copy(q: FairQueue) -> list[str]:
    return [job for _, job, _ in q.order()]


def test_bound_and_removal():
    q: FairQueue[int] = FairQueue(3)
    q.push("a", "a0", 0)
    q.push("a", "a1", 0)
    q.push("b", "b0", 0)
    with pytest.raises(QueueFull):
        q.push("c", "c0", 0)
    assert q.remove("a1") == 0 and "a1" not in q
    assert q.remove("a1") is None
    q.push("c", "c0", 0)
    assert [job for job, _ in q.remove_client("a")] == ["a0"]
    assert drain(q) == ["b0", "c0"]
    assert len(q) == 0 and q.pop() is None


def test_bad_length_is_refused():
    with pytest.raises(ValueError, match="queue length"):
        FairQueue(0)
