"""The ``dualclock`` backend: generated motion from the public SVD weights alone (Time-to-Move).

The preview renders the job's cut-and-drag video V (regions moved along their arrows over a
bit-exact still background) and, per frame, where the moved regions are (M). The pipeline's
one denoising loop then starts the background at ``dual_clock_weak`` and holds the painted regions
to V until ``dual_clock_strong`` (docs/model.md). With ``adapter_path`` configured too, the
TrackGo adapter runs in the same loop (TrackGo + dual-clock). Loading, threads, streaming,
cancellation and out-of-memory errors are the TrackGo backend's own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from server.backends.base import BackendError, BackendOptions
from server.backends.trackgo import SVD_PARAMS, TRACKGO_PARAMS, TrackGoBackend

DUAL_CLOCK_PARAMS = ("dual_clock_weak", "dual_clock_strong")


def motion_signal(reference: np.ndarray, masks, tracks, weak: float, strong: float, **options):
    """V and M at the reference's size: the preview's frames with a still background
    (background_follow 0) and its per-frame moved-region masks, as a pipeline ``DualClock``.
    ``options``: the renderer's per-track ``angles`` / ``softness`` (``region_options``)."""
    from server.backends.preview_render import PreviewRenderer
    from server.trackgo.pipeline import DualClock

    renderer = PreviewRenderer(reference, masks, tracks, tau=0.0, follow=0.0, **options)
    rendered = [renderer.frame_and_mask(i) for i in range(renderer.num_frames)]
    video = np.stack([frame for frame, _ in rendered])
    masks = np.stack([mask for _, mask in rendered])
    return DualClock(video, masks, weak, strong)


def motion_from_arrows(reference: np.ndarray, masks, arrows, easings, frames: int, weak: float = 0.32,
                       strong: float = 0.42, seed: int = 0):
    """(DualClock, Trajectories) for masks + arrows in the reference's pixels, without a job:
    what benchmarks and GPU checks pass to ``TrackGoPipeline.generate(image, trajectories or None,
    motion=...)``."""
    from server.motion import trajectories_from_arrows

    tracks = trajectories_from_arrows(masks, arrows, easings, frames, seed)
    return motion_signal(reference, masks, tracks, weak, strong), tracks


class DualClockBackend(TrackGoBackend):
    """SVD (+ the adapter when configured) with the dual-clock hold on every job."""

    def __init__(self, options: BackendOptions, name: str = "dualclock") -> None:
        super().__init__(options, name=name)

    @property
    def params(self) -> tuple[str, ...]:
        base = TRACKGO_PARAMS if self.options.adapter_path else SVD_PARAMS
        return base + DUAL_CLOCK_PARAMS

    @property
    def description(self) -> str:
        with_adapter = " + TrackAdapter" if self.options.adapter_path else ""
        return f"Stable Video Diffusion{with_adapter}, dual-clock denoising on the preview's motion"

    def _model_paths(self, report: Callable[[str], None]) -> tuple[Path, Path | None]:
        if not self.options.svd_path:
            raise BackendError(
                "dualclock backend: svd_path not configured",
                code="not_configured",
                hint="set svd_path (or TRACKGO_SVD_PATH) to a local diffusers SVD-XT folder; "
                     "no other weights are needed",
            )
        adapter = Path(self.options.adapter_path) if self.options.adapter_path else None
        return Path(self.options.svd_path), adapter

    def _generate(self, inputs, tracks, params, seed: int, **callbacks):
        from server.motion import region_options

        motion = motion_signal(inputs.reference, inputs.masks, tracks, params.dual_clock_weak,
                               params.dual_clock_strong, **region_options(inputs))
        adapter = {}
        if self.pipeline.track_adapter is not None:              # TrackGo + dual-clock
            adapter = {"trajectories": tracks, "alpha": params.alpha, "tau": params.tau}
        return self.pipeline.generate(self._image(inputs), motion=motion, **adapter,
                                      **self._svd_settings(inputs, params, seed), **callbacks)

    def _done_info(self, output, started: float) -> dict:
        info = super()._done_info(output, started)
        info["unet_calls"] = int(output.unet_calls)
        return info


def create_backend(options: BackendOptions | None = None) -> DualClockBackend:
    """Registry factory for ``dualclock`` (svd_path; adapter_path optional)."""
    return DualClockBackend(options or BackendOptions())
