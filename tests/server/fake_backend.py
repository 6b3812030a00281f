"""A deterministic backend for the server's tests: solid-colour frames, no model.

Plugged in through the documented hook ``--backend tests.server.fake_backend:create`` with
``--backend-option key=value`` settings (all optional):

* ``delay``      seconds slept per frame, in small cancellable slices (a "denoising step");
* ``hold``       "1": every frame waits for a permit the test hands out with ``allow(n)`` or
                 ``open()``, so a job stays running (or queued behind it) exactly as long as the
                 test needs, however loaded the machine is: no test waits on the clock;
* ``textured``   "1": frames carry a noisy gradient instead of a flat colour, so PNG encoding
                 costs what it costs on real images (benchmarks);
* ``fail_load``  "1": ``load`` raises, as a backend with missing weights would.

Per-job behaviour is chosen by the job's seed, so tests drive it through the real protocol:
seed 666 raises RuntimeError mid-job, seed 777 raises an ``OutOfMemoryError`` (the class name
torch uses), seed 888 yields a frame of the wrong size, seed 999 reports numpy scalars and other
objects msgpack cannot carry in its ``Done`` info.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from server.backends.base import BackendOptions, Done, Frame, Progress

FAIL_SEED, OOM_SEED, BAD_FRAME_SEED, ODD_INFO_SEED = 666, 777, 888, 999
STEP_SLICE_S = 0.005


class OutOfMemoryError(RuntimeError):
    """Named like torch.cuda.OutOfMemoryError: the server must recognise it by its class name."""


def frame_colour(seed: int, index: int) -> tuple[int, int, int]:
    """The colour of frame ``index`` of a job with ``seed``; tests check received frames against it."""
    return ((seed * 37 + index * 11) % 256, (seed * 101 + index * 53) % 256, (index * 97 + 13) % 256)


def textured_frame(height: int, width: int, seed: int, index: int) -> np.ndarray:
    rng = np.random.default_rng(seed * 1000 + index)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x + index * 4) % 256, (y + index * 2) % 256, (x + y) // 4 % 256], axis=-1)
    return np.clip(base + rng.integers(-12, 13, size=base.shape), 0, 255).astype(np.uint8)


class SolidColourBackend:
    name = "solid"
    description = "test backend: solid-colour frames"

    def __init__(self, delay: float = 0.0, textured: bool = False, fail_load: bool = False,
                 hold: bool = False) -> None:
        self.delay = delay
        self.textured = textured
        self.fail_load = fail_load
        self.loads = 0
        self.started_jobs: list[str] = []
        self.hold = hold
        self._permits: float = 0          # frames allowed to start; inf once open()
        self._gate = threading.Condition()

    def allow(self, frames: int) -> None:
        """Let ``frames`` more frames (of whichever jobs run) be made (``hold`` mode)."""
        with self._gate:
            self._permits += frames
            self._gate.notify_all()

    def open(self) -> None:
        """Let every frame through from now on (``hold`` mode)."""
        self.allow(float("inf"))

    def _wait_permit(self, ctx) -> bool:
        """Block until a frame is allowed; False as soon as the job is cancelled."""
        with self._gate:
            while self._permits <= 0:
                if ctx.cancelled():
                    return False
                self._gate.wait(STEP_SLICE_S)
            self._permits -= 1
            return not ctx.cancelled()

    def load(self, report) -> None:
        if self.fail_load:
            raise FileNotFoundError("weights not found at /nonexistent/svd (test backend)")
        report("solid colours need no weights")
        self.loads += 1

    def _sleep(self, ctx) -> bool:
        """Sleep one frame's delay in slices; False as soon as the job is cancelled."""
        if self.hold and not self._wait_permit(ctx):
            return False
        end = time.monotonic() + self.delay
        while True:
            if ctx.cancelled():
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(STEP_SLICE_S, left))

    def run(self, job, ctx):
        self.started_jobs.append(ctx.job_id)
        p = job.params
        for i in range(p.frames):
            if not self._sleep(ctx):
                return
            if ctx.seed == FAIL_SEED and i == 1:
                raise RuntimeError("deliberate failure of the test backend")
            if ctx.seed == OOM_SEED:
                raise OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            yield Progress("denoising", i + 1, p.frames)
            if ctx.seed == BAD_FRAME_SEED:
                yield Frame(i, p.frames, np.zeros((p.height + 1, p.width, 3), np.uint8))
            elif self.textured:
                yield Frame(i, p.frames, textured_frame(p.height, p.width, ctx.seed, i))
            else:
                rgb = np.empty((p.height, p.width, 3), np.uint8)
                rgb[:] = frame_colour(ctx.seed, i)
                yield Frame(i, p.frames, rgb)
        if ctx.seed == ODD_INFO_SEED:
            yield Done({"count": np.int64(3), "scale": np.float32(1.5), "where": Path("/models/x"),
                        "shape": (2, 3), "nested": {"flag": np.bool_(True)}})
            return
        yield Done({"backend": self.name})


def create(options: BackendOptions) -> SolidColourBackend:
    extra = options.extra
    return SolidColourBackend(delay=float(extra.get("delay", 0.0)), textured=extra.get("textured") == "1",
                              fail_load=extra.get("fail_load") == "1", hold=extra.get("hold") == "1")
