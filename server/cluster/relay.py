"""The front's stream reader inside the cluster, for a front connected through Ray Client.

Serve's streaming handles do not work over Ray Client (``ray://HEAD:PORT``: "Streaming
DeploymentHandles are not currently supported when connected to a remote Ray cluster using Ray
Client"). So a front outside the cluster starts this small actor on the cluster (no CPU reserved):
it holds the streaming handle, reads each job's stream as the replica sends it, and the front
collects what has arrived with ``take`` (one Ray Client call returns every batch that is there,
waiting up to ``wait_s`` when there is none). A replica lost mid-job is reported as ``LOST``.
"""
from __future__ import annotations

import asyncio

END = "end"      # the job's stream is over
LOST = "lost"    # the stream failed (its replica died): ("lost", exception type name)


class StreamRelay:
    def __init__(self, app_name: str) -> None:
        from ray import serve
        self._handle = serve.get_app_handle(app_name).options(stream=True)
        self._jobs: dict[str, tuple[object, asyncio.Queue]] = {}

    async def start(self, job, job_id: str, seed: int, queued_s: float) -> None:
        response = self._handle.run.remote(job, job_id, seed, queued_s)
        inbox: asyncio.Queue = asyncio.Queue()
        self._jobs[job_id] = (response, inbox)

        async def pump() -> None:
            try:
                async for batch in response:
                    inbox.put_nowait(batch)
                inbox.put_nowait(END)
            except BaseException as exc:   # also the cancel's CancelledError: the front knows it cancelled
                inbox.put_nowait((LOST, type(exc).__name__))

        asyncio.get_running_loop().create_task(pump())

    async def take(self, job_id: str, wait_s: float) -> list:
        """Every batch the job's replica sent since the last call (END / LOST last when over)."""
        entry = self._jobs.get(job_id)
        if entry is None:
            return [END]
        inbox = entry[1]
        try:
            items = [await asyncio.wait_for(inbox.get(), wait_s)]
        except asyncio.TimeoutError:
            return []
        while not inbox.empty():
            items.append(inbox.get_nowait())
        if items[-1] == END or (isinstance(items[-1], tuple) and items[-1][0] == LOST):
            self._jobs.pop(job_id, None)
        return items

    def cancel(self, job_id: str) -> None:
        entry = self._jobs.get(job_id)
        if entry is not None:
            entry[0].cancel()
