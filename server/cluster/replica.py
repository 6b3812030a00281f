"""The Ray Serve deployment: each replica loads one backend once and streams one job at a time.

``run`` is an async generator (Serve's streaming responses): every event of
``server.job_run.execute`` is sent to the front as it happens, frames already PNG-encoded on the
replica's machine. A cancel from the front (Serve cancels the request) or a front that went away
sets the job's cancel flag, which the backend checks at every denoising step; the job's last
step then finishes in the background before the replica's next job may touch the backend.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

from server.backends import BackendOptions, create_backend
from server.backends.base import JobContext
from server.encoding import encode_png
from server.job_events import FramePosted, RunningJob
from server.job_run import LoadState, RawFrame, execute

log = logging.getLogger("trackgo.server.replica")
_DONE = object()


class TrackGoReplica:
    """One backend instance, loaded at replica start (Serve restarts a replica that dies)."""

    def __init__(self, backend_name: str, options: dict, png_compression: int = 1) -> None:
        self.backend = create_backend(backend_name, BackendOptions(**options))
        self.backend.load(lambda text: log.info("loading %s: %s", backend_name, text))
        self.state = LoadState(True)
        self.compression = png_compression
        self.where = f"replica pid {os.getpid()}"
        self._backend_lock = threading.Lock()    # one job's step at a time on the backend

    async def run(self, job, job_id: str, seed: int, queued_s: float):
        ctx = JobContext(job_id, seed)
        item = RunningJob(job_id, job, ctx, accepted_at=time.monotonic() - queued_s)
        events = execute(self.backend, item, self.state, self.where)
        finished = False

        def step():
            with self._backend_lock:
                return next(events, _DONE)

        try:
            while True:
                # One backend step per thread hop: the event loop stays free to notice a cancel.
                event = await asyncio.to_thread(step)
                if event is _DONE:
                    finished = True
                    return
                if isinstance(event, RawFrame):
                    png = await asyncio.to_thread(encode_png, event.rgb, self.compression)
                    event = FramePosted(job_id, event.index, event.total, event.width, event.height, png)
                yield event
        finally:
            if not finished:
                ctx.cancel()   # cancelled, or the caller went away: the backend stops within one step
                threading.Thread(target=self._drain, args=(events,), daemon=True).start()

    def _drain(self, events) -> None:
        """Let a cancelled job end (its backend's clean-up runs) before the next job's first step."""
        with self._backend_lock:
            for _ in events:
                pass

    def pid(self) -> int:
        return os.getpid()
