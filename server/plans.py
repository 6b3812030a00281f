"""``plan`` requests: computed on a thread of their own, answered by the I/O thread.

Plans are quick (K-means on a few hundred points) but sampling a big mask must not stall the
frames of running jobs, and each waiting plan holds its job's images, so past a bound a plan is
answered ``busy`` at once instead of piling up in memory.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from server.job_events import plain

log = logging.getLogger("trackgo.server")

# Plans waiting for or running on the plan thread.
MAX_PENDING_PLANS = 8


@dataclass(frozen=True)
class PlanComputed:
    """A ``plan`` finished on the plan thread; the I/O thread sends the reply."""

    identity: bytes
    request_id: str
    future: Future


class Plans:
    def __init__(self, plan: Callable | None, post: Callable[[object], None]) -> None:
        self.plan = plan
        self._post = post
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackgo-plan")
        self.pending = 0

    def busy_error(self) -> dict | None:
        if self.pending >= MAX_PENDING_PLANS:
            return {"code": "busy", "field": None, "hint": "wait for the plans already sent, then ask again",
                    "message": f"{self.pending} plans are being computed already"}
        return None

    def submit(self, identity: bytes, request_id: str, job) -> None:
        self.pending += 1
        future = self._pool.submit(self.plan, job)
        future.add_done_callback(lambda fut: self._post(PlanComputed(identity, request_id, fut)))

    def reply(self, item: PlanComputed) -> tuple[str, dict] | None:
        """(message type, body) answering a finished plan; None when it was cancelled."""
        self.pending -= 1
        if item.future.cancelled():
            return None
        exc = item.future.exception()
        if exc is None:
            return "plan_result", plain(item.future.result())
        if hasattr(exc, "field"):  # server.motion's MotionInputError names the field at fault
            return "error", {"code": "invalid_field", "message": str(getattr(exc, "message", exc))[:500],
                             "field": exc.field, "hint": None}
        log.error("plan failed", exc_info=exc)
        return "error", {"code": "internal", "message": "the plan could not be computed (a bug on the server)",
                         "field": None, "hint": "the server log has the traceback"}

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
