"""One job on one backend, as a stream of events: the same steps whether the backend runs in a
device thread of this process (``server.worker``) or in a Ray Serve replica (``server.cluster``).

``execute`` loads the backend if needed, runs it, checks every frame, and ends with exactly one
``FinalPosted`` whose error body says what happened and what to try. Frames come out as raw RGB
(``RawFrame``); the caller encodes them where it suits it (a thread pool here, the replica there).
"""
from __future__ import annotations

import dataclasses
import logging
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from shared_protocol import ERROR_CODES

from server.backends.base import Backend, BackendError, Done, Frame, Progress
from server.backends.failures import OOM_HINT, is_out_of_memory
from server.encoding import FrameFormatError, check_frame
from server.job_events import FinalPosted, ProgressPosted, RunningJob, plain

log = logging.getLogger("trackgo.server.job")


@dataclass(frozen=True)
class RawFrame:
    """A checked frame, not yet encoded."""

    job_id: str
    index: int
    total: int
    width: int
    height: int
    rgb: Any


class LoadState:
    """Whether a backend instance has loaded its model (it loads lazily, once)."""

    def __init__(self, loaded: bool) -> None:
        self.loaded = loaded


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


def _free_accelerator_memory() -> None:
    """After an OOM, give cached blocks back so the next job has a chance (only if torch is loaded)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # never let cleanup hide the real error
        pass


def execute(backend: Backend, item: RunningJob, state: LoadState, where: str = "",
            report: Callable[[ProgressPosted], None] | None = None) -> Iterator[Any]:
    """Yield ProgressPosted / RawFrame events, then exactly one FinalPosted.

    ``report``: where loading notes go while the model loads (they arrive before ``load``
    returns); without it they are yielded once loading is over.
    """
    job_id, job, ctx = item.job_id, item.job, item.ctx
    width, height, frames = job.params.width, job.params.height, job.params.frames
    started = time.monotonic()
    timings: dict[str, float] = {"queued": round(started - item.accepted_at, 4)}
    submitted = 0
    info: dict = {}
    events = None
    try:
        if not state.loaded:
            yield ProgressPosted(job_id, Progress("loading", 0, 0, f"loading backend {backend.name}"))
            notes: list[str] = []
            if report is not None:
                backend.load(lambda text: report(ProgressPosted(job_id, Progress("loading", 0, 0, str(text)))))
            else:
                backend.load(notes.append)
            for text in notes:
                yield ProgressPosted(job_id, Progress("loading", 0, 0, str(text)))
            state.loaded = True
            timings["load"] = round(time.monotonic() - started, 4)
        run_started = time.monotonic()
        events = backend.run(job, ctx)
        for event in events:
            if ctx.cancelled():
                break
            if isinstance(event, Progress):
                yield ProgressPosted(job_id, Progress(str(event.stage), int(event.step), int(event.total),
                                                      str(event.message or "")))
            elif isinstance(event, Frame):
                if event.index != submitted:
                    raise FrameFormatError(f"frame index {event.index} arrived, expected {submitted}")
                rgb = check_frame(event.rgb, width, height, event.index)
                yield RawFrame(job_id, submitted, frames, width, height, rgb)
                submitted += 1
            elif isinstance(event, Done):
                info = dict(event.info or {})
                break
            else:
                raise TypeError(f"backend yielded {type(event).__name__}; expected Progress, Frame or Done")
        timings["run"] = round(time.monotonic() - run_started, 4)
    except Exception as exc:
        if ctx.cancelled():
            yield FinalPosted(job_id, "cancelled", {"frames_sent": submitted}, submitted)
            return
        if is_out_of_memory(exc):
            _free_accelerator_memory()
        log.error("job %s failed on %s:\n%s", job_id, where or backend.name, traceback.format_exc())
        yield FinalPosted(job_id, "error", error_body(exc), submitted)
        return
    finally:
        if events is not None and hasattr(events, "close"):
            try:
                events.close()  # lets a generator backend run its clean-up on cancel
            except Exception:
                log.exception("job %s: backend clean-up failed", job_id)
    if ctx.cancelled():
        yield FinalPosted(job_id, "cancelled", {"frames_sent": submitted}, submitted)
    elif submitted != frames:
        yield FinalPosted(job_id, "error", {
            "code": "internal", "message": f"the backend produced {submitted} of {frames} frames",
            "field": None, "hint": "this is a backend bug; the server log has details"}, submitted)
    else:
        params = dataclasses.asdict(job.params) if dataclasses.is_dataclass(job.params) else {}
        params["seed"] = ctx.seed
        params["backend"] = params.get("backend") or backend.name   # what actually ran
        body = {"timings": timings, "seed": int(ctx.seed), "params": plain(params), "frames": submitted}
        if info:
            body["info"] = plain(info)
        yield FinalPosted(job_id, "done", body, submitted)
