"""Where jobs run: one small interface, two places.

The front (``server.service``) queues jobs fairly and hands one to a runner only when the runner
has a free slot, so the order users see is the front's whatever runs the jobs:

* ``LocalRunner``  device threads of this process, one per device (``server.worker``);
* ``RayRunner``    replicas of a Ray Serve deployment on any number of machines
                   (``server.cluster``, loaded only with ``--cluster``).

A runner reports everything through the ``post`` callable it gets in ``start``: the events of
``server.job_events`` (progress, frames, one final per job) and ``SlotFree`` when a slot can take
the next job. It never touches the socket.
"""
from __future__ import annotations

from typing import Callable, Protocol

from server.encoding import FrameEncoder
from server.job_events import RunningJob, SlotFree
from server.worker import DeviceWorker


class JobRunner(Protocol):
    kind: str                                  # "local" | "ray"

    def start(self, post: Callable[[object], None]) -> None: ...
    def has_room(self) -> bool: ...            # a job handed over now starts at once
    def assign(self, item: RunningJob) -> None: ...
    def slot_free(self, item: SlotFree) -> None: ...
    def all_busy(self) -> bool: ...            # status_reply.busy
    def ready(self) -> bool: ...               # welcome.backends[].ready
    def describe(self) -> dict: ...            # status_reply.cluster
    def stop(self, timeout: float) -> None: ...


class LocalRunner:
    """One ``DeviceWorker`` thread per backend instance (per device) of this process."""

    kind = "local"

    def __init__(self, backends: list, encoder: FrameEncoder, loaded: bool) -> None:
        self._post: Callable[[object], None] = lambda item: None
        self.workers = [DeviceWorker(getattr(b, "device", None) or str(i), b, encoder, self._forward, loaded)
                        for i, b in enumerate(backends)]
        self.idle: list[DeviceWorker] = list(self.workers)

    def _forward(self, item: object) -> None:
        self._post(item)

    def start(self, post: Callable[[object], None]) -> None:
        self._post = post
        for worker in self.workers:
            worker.start()

    def has_room(self) -> bool:
        return bool(self.idle)

    def assign(self, item: RunningJob) -> None:
        self.idle.pop(0).assign(item)

    def slot_free(self, item: SlotFree) -> None:
        if item.slot not in self.idle:
            self.idle.append(item.slot)

    def all_busy(self) -> bool:
        return not self.idle

    def ready(self) -> bool:
        return all(w.loaded for w in self.workers)

    def describe(self) -> dict:
        return {"mode": "local", "replicas": len(self.workers), "busy": len(self.workers) - len(self.idle),
                "devices": [w.device for w in self.workers]}

    def stop(self, timeout: float) -> None:
        import logging
        import time
        for worker in self.workers:
            worker.stop()
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            if worker.is_alive():
                worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                logging.getLogger("trackgo.server").warning(
                    "worker %s did not stop within %g s; leaving it behind", worker.name, timeout)
