"""One thread per device: runs the backend on one job at a time and reports what happens.

The worker never touches the socket (ZeroMQ sockets are not thread-safe). It hands everything
to the service through ``post(item)``, a thread-safe callable; frames go to the encoder pool
and are posted when their PNG bytes are ready, so the device moves on to the next frame while
the CPU encodes. The job's steps themselves (load, run, check, one final) are
``server.job_run.execute``, shared with the Ray replicas.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

from server.backends.base import Backend
from server.encoding import FrameEncoder
from server.job_events import FinalPosted, FramePosted, RunningJob, SlotFree
from server.job_run import LoadState, RawFrame, execute

log = logging.getLogger("trackgo.server.worker")


class DeviceWorker(threading.Thread):
    """Runs jobs handed over with ``assign`` on one backend instance (one device)."""

    def __init__(self, name: str, backend: Backend, encoder: FrameEncoder,
                 post: Callable[[object], None], loaded: bool) -> None:
        super().__init__(name=f"trackgo-worker-{name}", daemon=True)
        self.device = name
        self.backend = backend
        self.encoder = encoder
        self.post = post
        self.state = LoadState(loaded)
        self._inbox: queue.Queue[RunningJob | None] = queue.Queue()
        self._encoding = EncodeStage(encoder, post)

    @property
    def loaded(self) -> bool:
        return self.state.loaded

    def assign(self, job: RunningJob) -> None:
        self._inbox.put(job)

    def stop(self) -> None:
        self._inbox.put(None)

    def run(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            try:
                self._run_job(item)
            except BaseException:  # a bug in the worker itself must not kill the device thread
                log.exception("worker %s: unexpected failure on job %s", self.device, item.job_id)
                self.post(FinalPosted(item.job_id, "error", {
                    "code": "internal", "message": "the server failed while running the job", "field": None,
                    "hint": "the server log has the traceback"}, 0))
            self.post(SlotFree(self))

    def _run_job(self, item: RunningJob) -> None:
        for event in execute(self.backend, item, self.state, self.device, report=self.post):
            if isinstance(event, RawFrame):
                self._encoding.submit(event)
            else:
                self.post(event)


class EncodeStage:
    """Frames to PNG beside the device (a device thread here, a Ray replica there): the device goes
    on with the next frame while the encoder pool works, and each frame is posted when its bytes
    are ready. At most 2 x encoder threads frames wait, which bounds memory if the device
    outpaces the CPU."""

    def __init__(self, encoder: FrameEncoder, post: Callable[[object], None]) -> None:
        self.encoder = encoder
        self.post = post
        self._waiting = 2 * encoder.threads
        self._slots = threading.BoundedSemaphore(self._waiting)

    def submit(self, frame: RawFrame) -> None:
        self._slots.acquire()
        future = self.encoder.submit(frame.rgb)

        def encoded(fut) -> None:
            try:
                if fut.cancelled():      # the pool is shutting down with the server
                    return
                exc = fut.exception()
                if exc is not None:
                    self.post(FinalPosted(frame.job_id, "error", {
                        "code": "internal", "message": f"frame {frame.index} could not be encoded: {exc}",
                        "field": None, "hint": None}, -1))
                else:
                    self.post(FramePosted(frame.job_id, frame.index, frame.total, frame.width, frame.height,
                                          fut.result()))
            finally:
                self._slots.release()   # after the post: drain() then means "everything posted"

        future.add_done_callback(encoded)

    def drain(self) -> None:
        """Return once every submitted frame has been posted."""
        for _ in range(self._waiting):
            self._slots.acquire()
        for _ in range(self._waiting):
            self._slots.release()
