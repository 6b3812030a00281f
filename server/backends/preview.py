"""The ``preview`` backend: the job's regions moved along their arrows on the CPU, no weights.

It uses the very trajectories the TrackGo backend feeds its encoder (``server.motion``), so
what the animator blocks here is what the model is asked for. Rendering lives in
``preview_render``; job decoding in ``server.motion.job_inputs``.
"""
from __future__ import annotations

import time
from typing import Callable, Iterator, Sequence

import numpy as np

from server.backends.base import BackendOptions, Done, Event, Frame, JobContext, Progress
from server.backends.job_motion import invalid_input, motion_for_job
from server.backends.preview_render import PreviewRenderer
from server.motion import MotionInputError, region_options, trajectories_from_arrows


def preview_renderer(reference_rgb: np.ndarray, masks: Sequence[np.ndarray], arrows: Sequence, easings,
                     frames: int, tau: float = 0.0, seed: int = 0, follow: float = 0.0) -> PreviewRenderer:
    """Sample the trajectories (server.motion) and prepare the per-job state; frames come lazily."""
    traj = trajectories_from_arrows(masks, arrows, easings, frames, seed)
    return PreviewRenderer(reference_rgb, masks, traj, tau, follow)


def render_preview(reference_rgb: np.ndarray, masks: Sequence[np.ndarray], arrows: Sequence, easings,
                   frames: int, tau: float = 0.0, seed: int = 0, follow: float = 0.0) -> np.ndarray:
    """All frames at once as uint8 (L, H, W, 3); masks and arrows in the reference's pixels.
    ``follow`` = 0 (the default) keeps the background still; > 0 drags it along, scaled by tau."""
    renderer = preview_renderer(reference_rgb, masks, arrows, easings, frames, tau, seed, follow)
    return np.stack(list(renderer.frames()))


class PreviewBackend:
    """CPU warp preview; the server's default when no model weights are configured."""

    name = "preview"
    # the job parameters it honours (welcome.backends[].params); steps, guidance, fps... are SVD's
    params = ("backend", "frames", "width", "height", "seed", "tau", "background_follow")

    def __init__(self, options: BackendOptions | None = None):
        self.options = options or BackendOptions()

    def load(self, report: Callable[[str], None]) -> None:
        report("preview backend ready (CPU, no model weights)")

    def run(self, job, ctx: JobContext) -> Iterator[Event]:
        t0 = time.perf_counter()
        yield Progress("preparing", 0, 1)
        inputs, traj = motion_for_job(job, ctx.seed)
        try:
            renderer = PreviewRenderer(inputs.reference, inputs.masks, traj, inputs.tau,
                                       job.params.background_follow, **region_options(inputs))
        except MotionInputError as exc:
            raise invalid_input(exc) from exc
        yield Progress("preparing", 1, 1)
        t_prepared = time.perf_counter()
        total = renderer.num_frames
        for i in range(total):
            if ctx.cancelled():
                return
            yield Frame(i, total, renderer.frame(i))
            yield Progress("decoding", i + 1, total)
        yield Done({"backend": self.name, "background_strength": renderer.strength,
                    "points": int(renderer.traj.num_points),
                    "prepare_s": round(t_prepared - t0, 4), "render_s": round(time.perf_counter() - t_prepared, 4)})


def create_backend(options: BackendOptions | None = None) -> PreviewBackend:
    """Registry factory (``server.backends.BUILTIN_BACKENDS['preview']``)."""
    return PreviewBackend(options)
