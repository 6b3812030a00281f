"""The Ray Serve deployment: each replica loads one backend once and streams one job at a time.

``run`` is an async generator (Serve's streaming responses). The job itself runs in a thread of
the replica exactly as in a device thread of the single-process server: ``server.job_run.execute``
for the steps, ``server.worker.EncodeStage`` to PNG-encode each frame beside the backend while it
makes the next one. Everything the job posts is sent to the front as soon as it is there, several
events in one stream item when they came together (each item costs a Ray round trip). A cancel
from the front (Serve cancels the request) or a front that went away sets the job's cancel flag,
which the backend checks at every denoising step; the job's last step then finishes in the
background before the replica's next job may touch the backend.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

from server.backends import BackendOptions, create_backend
from server.backends.base import JobContext
from server.encoding import FrameEncoder
from server.job_events import FinalPosted, RunningJob
from server.job_run import LoadState, RawFrame, execute
from server.worker import EncodeStage

log = logging.getLogger("trackgo.server.replica")
_END = object()     # the job's thread has posted everything


class TrackGoReplica:
    """One backend instance, loaded at replica start (Serve restarts a replica that dies)."""

    def __init__(self, backend_name: str, options: dict, png_compression: int = 1, encoder_threads: int = 0) -> None:
        self.backend = create_backend(backend_name, BackendOptions(**options))
        self.backend.load(lambda text: log.info("loading %s: %s", backend_name, text))
        self.state = LoadState(True)
        self.encoder = FrameEncoder(encoder_threads, png_compression)
        self.where = f"replica pid {os.getpid()}"
        self._backend_lock = threading.Lock()    # one job at a time on the backend, a cancelled one's end included

    async def run(self, job, job_id: str, seed: int, queued_s: float):
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue = asyncio.Queue()

        def post(event: object) -> None:
            try:
                loop.call_soon_threadsafe(inbox.put_nowait, event)
            except RuntimeError:     # the request is gone and its loop closed: nobody reads any more
                pass

        ctx = JobContext(job_id, seed)
        item = RunningJob(job_id, job, ctx, accepted_at=time.monotonic() - queued_s)
        threading.Thread(target=self._job_thread, args=(item, post), name=f"trackgo-job-{job_id[:8]}",
                         daemon=True).start()
        finished = False
        try:
            while True:
                batch = [await inbox.get()]
                while not inbox.empty():
                    batch.append(inbox.get_nowait())
                finished = batch[-1] is _END
                events = [event for event in batch if event is not _END]
                if events:
                    yield events
                if finished:
                    return
        finally:
            if not finished:
                ctx.cancel()   # cancelled, or the caller went away: the backend stops within one step

    def _job_thread(self, item: RunningJob, post) -> None:
        """Run the job (after a cancelled predecessor has ended), then post ``_END`` once all is posted."""
        encoding = EncodeStage(self.encoder, post)
        with self._backend_lock:
            try:
                for event in execute(self.backend, item, self.state, self.where):
                    if isinstance(event, RawFrame):
                        encoding.submit(event)
                    else:
                        post(event)
            except BaseException:   # a bug here must still end the job with one final
                log.exception("replica: unexpected failure on job %s", item.job_id)
                post(FinalPosted(item.job_id, "error", {
                    "code": "internal", "message": "the replica failed while running the job", "field": None,
                    "hint": "the replica's log has the traceback"}, 0))
            finally:
                encoding.drain()
                post(_END)

    def pid(self) -> int:
        return os.getpid()
