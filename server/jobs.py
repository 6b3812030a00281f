"""Job bookkeeping at the front: the live jobs, room and per-client quota, and each job's stream
order (frames in index order, the final held back until the last frame went out).

Not thread-safe on purpose: only the I/O thread touches it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from server.backends.base import JobContext
from server.job_events import FinalPosted, FramePosted, RunningJob
from server.scheduler import FairQueue


@dataclass
class JobRecord:
    job_id: str
    identity: bytes
    request_id: str
    job: Any
    ctx: JobContext
    state: str = "queued"              # queued | running | finished
    seq: int = 0
    frames_sent: int = 0
    pending_frames: dict = field(default_factory=dict)   # index -> FramePosted waiting for its turn
    held_final: FinalPosted | None = None
    last_position: int | None = None
    running: RunningJob | None = None
    stage_start: tuple | None = None     # (stage, step, monotonic time) for the ETA
    accepted_at: float = field(default_factory=time.monotonic)

    def frames_in_order(self, item: FramePosted) -> list[FramePosted]:
        """Take one encoded frame; return those now sendable, in index order."""
        self.pending_frames[item.index] = item
        ready = []
        while self.frames_sent + len(ready) in self.pending_frames:
            ready.append(self.pending_frames.pop(self.frames_sent + len(ready)))
        return ready

    def releasable_final(self) -> FinalPosted | None:
        """The held final once every frame it counts has gone out, else None."""
        final = self.held_final
        if final is not None and self.frames_sent >= final.frames_submitted:
            return final
        return None

    def eta(self, stage: str, step: int, total: int) -> float | None:
        """Seconds left in this stage, from its pace so far (None until two steps were seen)."""
        now = time.monotonic()
        if self.stage_start is None or self.stage_start[0] != stage:
            self.stage_start = (stage, step, now)
            return None
        _, first_step, started = self.stage_start
        if total <= 0 or step <= first_step:
            return None
        per_step = (now - started) / (step - first_step)
        return round(per_step * max(0, total - step), 2)


class JobBook:
    """Live jobs (queued or running), the fair queue, and the limits on how many there may be."""

    def __init__(self, max_live_jobs: int, client_quota: int | None = None) -> None:
        # One number for "how many jobs": queued or running, all clients (welcome.limits.max_queue).
        self.max_live_jobs = max_live_jobs
        # Queued or running jobs one client may have; the rest of the room stays for the others.
        self.client_quota = min(max_live_jobs, client_quota or max_live_jobs)
        self.queue: FairQueue[JobRecord] = FairQueue(max_live_jobs)
        self.live: dict[str, JobRecord] = {}

    def of_client(self, identity: bytes) -> list[JobRecord]:
        return [r for r in self.live.values() if r.identity == identity]

    def room_problem(self, identity: bytes) -> dict | None:
        """The ``queue_full`` error when the server or this client has no room left, else None."""
        mine = len(self.of_client(identity))
        if mine >= self.client_quota:
            return {"code": "queue_full", "field": None, "limit": self.client_quota,
                    "message": f"you already have {mine} jobs queued or running; "
                               f"each client may have {self.client_quota} (the server's client_quota)",
                    "hint": "wait for one of your jobs to finish, then submit again"}
        if len(self.live) >= self.max_live_jobs:
            return {"code": "queue_full", "field": None, "limit": self.max_live_jobs,
                    "message": f"the server has {len(self.live)} jobs queued or running, its limit "
                               f"(max_queue {self.max_live_jobs})",
                    "hint": "wait for a job to finish, then submit again"}
        return None

    def add(self, record: JobRecord) -> int:
        """Queue a new job; its 1-based queue position. Raises QueueFull."""
        self.queue.push(record.identity, record.job_id, record)
        self.live[record.job_id] = record
        position = self.queue.positions()[record.job_id] + 1
        record.last_position = position
        return position

    def next_to_run(self) -> JobRecord | None:
        popped = self.queue.pop()
        if popped is None:
            return None
        record = popped[2]
        record.state = "running"
        record.running = RunningJob(record.job_id, record.job, record.ctx, accepted_at=record.accepted_at)
        return record

    def forget(self, record: JobRecord) -> None:
        """The job is over (its final is sent, or nobody is left to tell): stop it, drop it."""
        record.state = "finished"
        record.ctx.cancel()   # stops the backend if it is still running (no-op after done)
        record.pending_frames.clear()
        self.queue.remove(record.job_id)
        self.live.pop(record.job_id, None)

    def drop_client(self, identity: bytes) -> list[JobRecord]:
        """Forget every live job of a client; returns them."""
        dropped = self.of_client(identity)
        self.queue.remove_client(identity)
        for record in dropped:
            self.forget(record)
        return dropped

    def moved_positions(self) -> list[tuple[JobRecord, int]]:
        """Queued jobs whose 1-based position changed since last told (and record the new one)."""
        moved = []
        for job_id, position in self.queue.positions().items():
            record = self.live.get(job_id)
            if record is None or record.state != "queued":
                continue
            if record.last_position != position + 1:
                record.last_position = position + 1
                moved.append((record, position + 1))
        return moved
