"""A bounded job queue that is fair between clients.

Jobs wait in one FIFO per client; ``pop`` serves the clients round-robin, so one client that
submits ten jobs cannot starve another that submits one. ``positions`` gives every queued job
the number of jobs that will start before it under that order (0 = next), which the service
sends to each client as its queue position.

Not thread-safe on purpose: only the service's I/O thread touches it.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from typing import Generic, Hashable, Iterator, TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    """The queue already holds ``max_length`` jobs."""


class FairQueue(Generic[T]):
    def __init__(self, max_length: int) -> None:
        if max_length < 1:
            raise ValueError(f"queue length: expected an integer >= 1, got {max_length}")
        self.max_length = max_length
        # client -> deque[(job_id, item)]; the OrderedDict's order is the round-robin order.
        self._per_client: OrderedDict[Hashable, deque[tuple[str, T]]] = OrderedDict()
        self._client_of: dict[str, Hashable] = {}
        # The client whose job started last: a client that joins the line goes ahead of it, so
        # one that has just been served (even while nobody else waited) does not go first again.
        self._last_served: Hashable | None = None

    def __len__(self) -> int:
        return len(self._client_of)

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._client_of

    def push(self, client: Hashable, job_id: str, item: T) -> int:
        """Queue ``item``; return its position. Raises QueueFull when the queue is full."""
        if len(self) >= self.max_length:
            raise QueueFull(f"the queue is full ({self.max_length} jobs waiting)")
        if job_id in self._client_of:
            raise ValueError(f"job {job_id!r} is already queued")
        newcomer = client not in self._per_client
        self._per_client.setdefault(client, deque()).append((job_id, item))
        self._client_of[job_id] = client
        if newcomer and client != self._last_served and self._last_served in self._per_client:
            self._per_client.move_to_end(self._last_served)
        return self.positions()[job_id]

    def pop(self) -> tuple[Hashable, str, T] | None:
        """Next job in round-robin order, or None when empty."""
        if not self._per_client:
            return None
        client, jobs = next(iter(self._per_client.items()))
        job_id, item = jobs.popleft()
        del self._client_of[job_id]
        self._last_served = client
        # The served client goes to the back of the line.
        self._per_client.move_to_end(client)
        if not jobs:
            del self._per_client[client]
        return client, job_id, item

    def remove(self, job_id: str) -> T | None:
        """Take a queued job out (cancel); None if it is not queued."""
        client = self._client_of.pop(job_id, None)
        if client is None:
            return None
        jobs = self._per_client[client]
        for i, (jid, item) in enumerate(jobs):
            if jid == job_id:
                del jobs[i]
                break
        if not jobs:
            del self._per_client[client]
        return item

    def remove_client(self, client: Hashable) -> list[tuple[str, T]]:
        """Drop every queued job of a client (it vanished); returns them."""
        jobs = self._per_client.pop(client, deque())
        for job_id, _ in jobs:
            del self._client_of[job_id]
        return list(jobs)

    def order(self) -> Iterator[tuple[Hashable, str, T]]:
        """Queued jobs in the order ``pop`` would return them (if nothing changes meanwhile)."""
        queues = [(client, list(jobs)) for client, jobs in self._per_client.items()]
        depth = 0
        while True:
            emitted = False
            for client, jobs in queues:
                if depth < len(jobs):
                    job_id, item = jobs[depth]
                    emitted = True
                    yield client, job_id, item
            if not emitted:
                return
            depth += 1

    def positions(self) -> dict[str, int]:
        """job id -> number of queued jobs that will start before it."""
        return {job_id: i for i, (_, job_id, _) in enumerate(self.order())}

    def jobs_of(self, client: Hashable) -> list[str]:
        return [job_id for job_id, _ in self._per_client.get(client, ())]
