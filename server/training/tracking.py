"""Point trackers behind one interface: OpenCV's pyramidal Lucas-Kanade, or a plug-in.

The paper tracks its control points with CoTracker. Here the default is
``cv2.calcOpticalFlowPyrLK`` chained frame to frame with a forward-backward check; a stronger
tracker plugs in through ``load_tracker("package.module:factory")`` when its code and weights
are installed locally (nothing is ever downloaded).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np


@runtime_checkable
class PointTracker(Protocol):
    """Follows points given on frame 0 through a clip.

    ``track(frames (L, H, W, 3) uint8 RGB, points (N, 2) float32 xy on frame 0, groups)``
    returns ``positions (L, N, 2) float32`` and ``visible (L, N) bool`` (frame 0 is the input,
    visible). ``groups`` (N,) int, optional, says which points belong to the same component
    (a tracker may use it to check that they move coherently, or ignore it). Positions of
    invisible points are the tracker's best guess and must not be trusted.
    """

    name: str

    def track(self, frames: np.ndarray, points: np.ndarray,
              groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class LucasKanadeTracker:
    """Pyramidal LK from frame i-1 to i, checked by tracking back to frame i-1.

    A point is visible in frame i when both directions converged, the round trip lands within
    ``fb_threshold`` px of where it started, and it lies inside the image. A point that fails in
    one frame is dropped for that frame only; it keeps being tracked from its best estimate.

    LK's window straddles object edges, and next to a static textured background an edge point
    can slide along with the background while passing the forward-backward check. So, when
    ``groups`` are given, each component's frame-0 -> frame-i motion is fitted with a RANSAC
    affine model (``cv2.estimateAffine2D``); points further than ``coherence_threshold`` px from
    it are dropped for that frame too, and tracked on from the model's prediction.
    ``coherence_threshold=None`` turns this off (e.g. for strongly deforming components).
    """

    # None: the window follows the frame size (short side / 27, odd, at least 7: 7 px at 192,
    # 21 px at 576). Small enough that edge points' support stays on their object, large enough
    # for the softer texture of high-resolution frames; the pyramid catches large motion.
    # Chosen on the synthetic clips of tests/training and benchmarks/prepare_clip.py.
    window: int | None = None
    levels: int = 3
    fb_threshold: float = 1.0
    coherence_threshold: float | None = 0.5
    name: str = "lucas-kanade"

    def track(self, frames: np.ndarray, points: np.ndarray,
              groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        frames = np.asarray(frames)
        points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        length, height, width = frames.shape[:3]
        positions = np.empty((length, len(points), 2), np.float32)
        visible = np.zeros((length, len(points)), bool)
        positions[0] = points
        visible[0] = True
        if len(points) == 0:
            return positions, visible
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
        window = self.window or max(7, int(min(height, width) / 27) | 1)
        params = dict(winSize=(window, window), maxLevel=self.levels, criteria=criteria)
        grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
        for i in range(1, length):
            prev = positions[i - 1].reshape(-1, 1, 2)
            fwd, st_f, _ = cv2.calcOpticalFlowPyrLK(grey[i - 1], grey[i], prev, None, **params)
            back, st_b, _ = cv2.calcOpticalFlowPyrLK(grey[i], grey[i - 1], fwd, None, **params)
            fwd = fwd.reshape(-1, 2)
            round_trip = np.linalg.norm(back.reshape(-1, 2) - prev.reshape(-1, 2), axis=1)
            converged = (st_f.ravel() == 1) & (st_b.ravel() == 1)
            inside = ((fwd[:, 0] >= 0) & (fwd[:, 0] <= width - 1)
                      & (fwd[:, 1] >= 0) & (fwd[:, 1] <= height - 1))
            ok = converged & (round_trip <= self.fb_threshold) & inside
            positions[i] = np.where(converged[:, None], fwd, positions[i - 1])
            if groups is not None and self.coherence_threshold is not None:
                ok = self._coherent(points, positions[i], ok, np.asarray(groups))
            visible[i] = ok
        return positions, visible

    def _coherent(self, start: np.ndarray, now: np.ndarray, ok: np.ndarray,
                  groups: np.ndarray) -> np.ndarray:
        """Drop points off their component's affine motion; re-seat them on the model."""
        ok = ok.copy()
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            good = members[ok[members]]
            if len(good) < 3:
                continue
            model, _ = cv2.estimateAffine2D(start[good], now[good], method=cv2.RANSAC,
                                            ransacReprojThreshold=self.coherence_threshold)
            if model is None:
                continue
            predicted = start[members] @ model[:, :2].T + model[:, 2]
            off = np.linalg.norm(now[members] - predicted, axis=1) > self.coherence_threshold
            ok[members[off]] = False
            now[members[off]] = predicted[off]
        return ok


@dataclass
class CoTrackerAdapter:
    """CoTracker (the paper's tracker), used only when its package and checkpoint are local.

    Not exercised by the tests here (neither is installed); it follows CoTracker's published
    ``CoTrackerPredictor(checkpoint=...)`` API: video (1, L, 3, H, W) float, queries (1, N, 3)
    as (frame, x, y) -> tracks (1, L, N, 2), visibility (1, L, N).
    """

    checkpoint: str
    device: str = "cpu"
    name: str = "cotracker"

    def __post_init__(self) -> None:
        try:
            predictor = importlib.import_module("cotracker.predictor")
        except ImportError as exc:
            raise TrackerError("tracker: 'cotracker' needs the cotracker package installed "
                               "(pip install from its repository)") from exc
        from pathlib import Path
        if not Path(self.checkpoint).is_file():
            raise TrackerError(f"tracker: CoTracker checkpoint not found at {self.checkpoint} "
                               "(expected e.g. cotracker2.pth; nothing is downloaded)")
        self._model = predictor.CoTrackerPredictor(checkpoint=self.checkpoint).to(self.device)

    def track(self, frames: np.ndarray, points: np.ndarray,
              groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        import torch
        video = torch.from_numpy(np.asarray(frames)).permute(0, 3, 1, 2)[None].float()
        pts = torch.from_numpy(np.asarray(points, np.float32))
        queries = torch.cat([torch.zeros(len(pts), 1), pts], dim=1)[None]
        with torch.no_grad():
            tracks, vis = self._model(video.to(self.device), queries=queries.to(self.device))
        positions = tracks[0].cpu().numpy().astype(np.float32)
        visible = vis[0].cpu().numpy().astype(bool)
        positions[0], visible[0] = points, True
        return positions, visible


class TrackerError(ValueError):
    """The requested tracker cannot be built; the message says what is missing."""


def load_tracker(spec: str = "lucas-kanade", weights: str | None = None, **options) -> PointTracker:
    """``lucas-kanade`` (default), ``cotracker`` (needs ``weights``) or ``module:factory``."""
    if spec in ("lucas-kanade", "lk"):
        return LucasKanadeTracker(**options)
    if spec == "cotracker":
        if not weights:
            raise TrackerError("tracker: 'cotracker' needs --tracker-weights PATH to a local "
                               "checkpoint (nothing is downloaded)")
        return CoTrackerAdapter(checkpoint=weights, **options)
    if ":" not in spec:
        raise TrackerError(f"tracker: unknown tracker {spec!r}: expected 'lucas-kanade', "
                           "'cotracker' or 'package.module:factory'")
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise TrackerError(f"tracker: cannot import {spec!r}: {exc}") from exc
    tracker = factory(weights=weights, **options) if weights else factory(**options)
    if not isinstance(tracker, PointTracker):
        raise TrackerError(f"tracker: {spec!r} did not return an object with .name and .track()")
    return tracker
