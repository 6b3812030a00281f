"""FairQueue: round-robin between clients, positions, bound, removal."""
from __future__ import annotations

import copy

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


def popped_order(q: FairQueue) -> list[str]:
    """The order ``pop`` really serves a copy of ``q`` in (the original is left as it is)."""
    return drain(copy.deepcopy(q))


def test_positions_match_pop_order():
    q: FairQueue[int] = FairQueue(100)
    for client, job in [("a", "a0"), ("a", "a1"), ("b", "b0"), ("a", "a2"), ("c", "c0"), ("b", "b1")]:
        q.push(client, job, 0)
    assert q.pop()[1] == "a0"   # a goes to the back
    positions = q.positions()
    assert popped_order(q) == ["b0", "c0", "a1", "b1", "a2"]
    assert positions == {"b0": 0, "c0": 1, "a1": 2, "b1": 3, "a2": 4}


def test_positions_with_several_clients_each_holding_several_jobs():
    # Jobs are popped round-robin; positions listing each client's jobs in turn would be wrong.
    q: FairQueue[int] = FairQueue(100)
    for client, count in (("a", 3), ("b", 3), ("c", 2)):
        for i in range(count):
            q.push(client, f"{client}{i}", i)
    expected = ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2"]
    assert q.positions() == {job: i for i, job in enumerate(expected)}
    assert popped_order(q) == expected
    # after every pop the positions still match what pop does next
    while len(q):
        assert sorted(q.positions(), key=q.positions().get) == popped_order(q)
        q.pop()


def test_positions_after_a_cancel_move_later_jobs_up():
    q: FairQueue[int] = FairQueue(100)
    for client, job in [("a", "a0"), ("b", "b0"), ("a", "a1"), ("b", "b1")]:
        q.push(client, job, 0)
    assert q.positions() == {"a0": 0, "b0": 1, "a1": 2, "b1": 3}
    assert q.remove("b0") == 0
    assert q.positions() == {"a0": 0, "b1": 1, "a1": 2}
    assert popped_order(q) == ["a0", "b1", "a1"]
    assert q.jobs_of("b") == ["b1"] and q.jobs_of("nobody") == []


def test_bound_and_removal():
    q: FairQueue[int] = FairQueue(3)
    q.push("a", "a0", 0)
    q.push("a", "a1", 0)
    q.push("b", "b0", 0)
    with pytest.raises(QueueFull, match=r"the queue is full \(3 jobs waiting\)"):
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


def test_smallest_queue_and_duplicate_ids():
    q: FairQueue[int] = FairQueue(1)
    assert q.push("a", "a0", 0) == 0
    with pytest.raises(QueueFull):
        q.push("b", "b0", 0)
    assert q.pop()[1] == "a0"
    q2: FairQueue[int] = FairQueue(2)
    q2.push("a", "a1", 0)
    with pytest.raises(ValueError, match="'a1' is already queued"):
        q2.push("b", "a1", 0)
    assert len(q2) == 1


def test_remove_client_of_an_unknown_client_is_empty():
    q: FairQueue[int] = FairQueue(4)
    q.push("a", "a0", 0)
    assert q.remove_client("nobody") == []
    assert q.remove_client("a") == [("a0", 0)] and len(q) == 0 and "a0" not in q


def test_nobody_counts_as_served_before_the_first_pop():
    # Any client name, even an empty one, keeps its turn until a job has really started.
    q: FairQueue[int] = FairQueue(4)
    q.push("", "e0", 0)
    q.push("b", "b0", 0)
    assert popped_order(q) == ["e0", "b0"]
