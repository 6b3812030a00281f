"""One thread per device: runs the backend on one job at a time and reports what happens.

The worker never touches the socket (ZeroMQ sockets are not thread-safe). It hands everything
to the service through ``post(item)``, a thread-safe callable; frames go to the encoder pool
and are posted when their PNG bytes are ready, so the device moves on to the next frame while
the CPU encodes. Failures are turned into an ``error`` final here, once, with a message that
says what happened and what to try; the service makes sure only the first final of a job is sent.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from shared_protocol import ERROR_CODES

from server.backends.base import Backend, BackendError, Done, Frame, JobContext, Progress
from server.encoding import FrameEncoder, FrameFormatError, check_frame

log = logging.getLogger("trackgo.server.worker")

OOM_HINT = ("try a smaller width/height, fewer frames, a lower decode_chunk_size, "
            "or start the server with --cpu-offload")


# ---- what a worker posts to the service (plain tuples would hide the fields) ----------------
@dataclass(frozen=True)
class ProgressPosted:
    job_id: str
    progress: Progress


@dataclass(frozen=True)
class FramePosted:
    job_id: str
    index: int
    total: int
    width: int
    height: int
    png: bytes


@dataclass(frozen=True)
class FinalPosted:
    """The job ended: ``kind`` is done | error | cancelled; the service sends it after the frames."""

    job_id: str
    kind: str
    body: dict
    frames_submitted: int


@dataclass(frozen=True)
class WorkerIdle:
    worker: "DeviceWorker"


@dataclass
class RunningJob:
    """What a worker needs to run one job."""

    job_id: str
    job: Any                      # shared_protocol.Job
    ctx: JobContext
    accepted_at: float = field(default_factory=time.monotonic)


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError (and MPS/older torch's RuntimeError text) without importing torch."""
    if type(exc).__name__ == "OutOfMemoryError" or isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def error_body(exc: BaseException) -> dict:
    """The ``error`` body for an exception raised while running a job."""
    if isinstance(exc, BackendError):
        # Codes outside the protocol's list would mean nothing to a client: say backend_error.
        code = exc.code if exc.code in ERROR_CODES else "backend_error"
        return {"code": code, "message": str(exc), "field": None, "hint": exc.hint or None}
    if is_out_of_memory(exc):
        return {"code": "out_of_memory", "message": f"the device ran out of memory ({str(exc)[:300]})",
                "field": None, "hint": OOM_HINT}
    if isinstance(exc, FrameFormatError):
        return {"code": "internal", "message": f"the backend produced a bad frame: {exc}", "field": None,
                "hint": "this is a backend bug; the server log has details"}
    return {"code": "backend_error", "message": f"the backend failed: {type(exc).__name__}: {str(exc)[:500]}",
            "field": None, "hint": "the server log has the traceback; a smaller job or another seed may work"}


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` with numpy scalars, tuples and odd objects turned into msgpack-able plain types.

    Backends report ``Done.info`` with whatever they computed (np.int64 counts, Path objects);
    one such value must not make the job's final message unsendable.
    """
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if depth > 8:
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    item = getattr(value, "item", None)       # numpy / torch scalars
    if callable(item):
        try:
            return plain(item(), depth + 1)
        except (TypeError, ValueError):
            pass
    return str(value)


def _free_accelerator_memory() -> None:
    """After an OOM, give cached blocks back so the next job has a chance (only if torch is loaded)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # never let cleanup hide the real error
        pass


class DeviceWorker(threading.Thread):
    """Runs jobs handed over with ``assign`` on one backend instance (one device)."""

    def __init__(self, name: str, backend: Backend, encoder: FrameEncoder,
                 post: Callable[[object], None], loaded: bool) -> None:
        super().__init__(name=f"trackgo-worker-{name}", daemon=True)
        self.device = name
        self.backend = backend
        self.encoder = encoder
        self.post = post
        self.loaded = loaded
        self._inbox: queue.Queue[RunningJob | None] = queue.Queue()
        # At most this many frames wait for the encoder: bounds memory if the device outpaces the CPU.
        self._encode_slots = threading.BoundedSemaphore(2 * encoder.threads)

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
            self.post(WorkerIdle(self))

    # ---- one job -----------------------------------------------------------------------------
    def _run_job(self, item: RunningJob) -> None:
        job_id, job, ctx = item.job_id, item.job, item.ctx
        width, height, frames = job.params.width, job.params.height, job.params.frames
        started = time.monotonic()
        timings: dict[str, float] = {"queued": round(started - item.accepted_at, 4)}
        submitted = 0
        info: dict = {}
        events = None
        try:
            if not self.loaded:
                self.post(ProgressPosted(job_id, Progress("loading", 0, 0, f"loading backend {self.backend.name}")))
                self.backend.load(lambda text: self.post(ProgressPosted(job_id, Progress("loading", 0, 0, str(text)))))
                self.loaded = True
                timings["load"] = round(time.monotonic() - started, 4)
            run_started = time.monotonic()
            events = self.backend.run(job, ctx)
            for event in events:
                if ctx.cancelled():
                    break
                if isinstance(event, Progress):
                    self.post(ProgressPosted(job_id, Progress(str(event.stage), int(event.step), int(event.total),
                                                              str(event.message or ""))))
                elif isinstance(event, Frame):
                    if event.index != submitted:
                        raise FrameFormatError(f"frame index {event.index} arrived, expected {submitted}")
                    rgb = check_frame(event.rgb, width, height, event.index)
                    self._encode(job_id, rgb, submitted, frames, width, height)
                    submitted += 1
                elif isinstance(event, Done):
                    info = dict(event.info or {})
                    break
                else:
                    raise TypeError(f"backend yielded {type(event).__name__}; expected Progress, Frame or Done")
            timings["run"] = round(time.monotonic() - run_started, 4)
        except BaseException as exc:
            if ctx.cancelled():
                self.post(FinalPosted(job_id, "cancelled", {"frames_sent": submitted}, submitted))
                return
            if is_out_of_memory(exc):
                _free_accelerator_memory()
            log.error("job %s failed on %s:\n%s", job_id, self.device, traceback.format_exc())
            self.post(FinalPosted(job_id, "error", error_body(exc), submitted))
            return
        finally:
            if events is not None and hasattr(events, "close"):
                try:
                    events.close()  # lets a generator backend run its clean-up on cancel
                except Exception:
                    log.exception("job %s: backend clean-up failed", job_id)
        if ctx.cancelled():
            self.post(FinalPosted(job_id, "cancelled", {"frames_sent": submitted}, submitted))
        elif submitted != frames:
            self.post(FinalPosted(job_id, "error", {
                "code": "internal", "message": f"the backend produced {submitted} of {frames} frames",
                "field": None, "hint": "this is a backend bug; the server log has details"}, submitted))
        else:
            params = dataclasses.asdict(job.params) if dataclasses.is_dataclass(job.params) else {}
            params["seed"] = ctx.seed
            params["backend"] = params.get("backend") or self.backend.name   # what actually ran
            timings["total"] = round(time.monotonic() - item.accepted_at, 4)
            body = {"timings": timings, "seed": int(ctx.seed), "params": plain(params), "frames": submitted}
            if info:
                body["info"] = plain(info)
            self.post(FinalPosted(job_id, "done", body, submitted))

    def _encode(self, job_id: str, rgb, index: int, total: int, width: int, height: int) -> None:
        self._encode_slots.acquire()
        future = self.encoder.submit(rgb)

        def encoded(fut) -> None:
            self._encode_slots.release()
            if fut.cancelled():      # the pool is shutting down with the server
                return
            exc = fut.exception()
            if exc is not None:
                self.post(FinalPosted(job_id, "error", {
                    "code": "internal", "message": f"frame {index} could not be encoded: {exc}", "field": None,
                    "hint": None}, -1))
            else:
                self.post(FramePosted(job_id, index, total, width, height, fut.result()))

        future.add_done_callback(encoded)
