"""Arrows as motion: a polyline walked by arc length, with the animator's timing (easing).

Frame i of L sits at time t_i = i / (L - 1); easing maps t to the share u of the path covered;
the displacement is the point at arc length u * length minus the tail. Frame 0 is exactly 0 and
the last frame is exactly head - tail, whatever the easing.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .errors import MotionInputError


def _linear(t: np.ndarray) -> np.ndarray:
    return t


def _ease_in(t: np.ndarray) -> np.ndarray:
    return t * t


def _ease_out(t: np.ndarray) -> np.ndarray:
    return 1.0 - (1.0 - t) * (1.0 - t)


def _ease_in_out(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)          # smoothstep: slow start, slow end, symmetric


EASINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": _linear,
    "ease-in": _ease_in,
    "ease-out": _ease_out,
    "ease-in-out": _ease_in_out,
}


def check_easing(easing: str, field: str = "easing") -> str:
    """The canonical easing name (``ease_in`` is read as ``ease-in``) or an error naming ``field``."""
    name = str(easing).strip().lower().replace("_", "-") if isinstance(easing, str) else easing
    if name not in EASINGS:
        raise MotionInputError(field, f"expected one of {sorted(EASINGS)}, got {easing!r}")
    return name


def eased_times(frames: int, easing: str = "linear", field: str = "easing") -> np.ndarray:
    """u_i = easing(i / (L - 1)) for i in 0..L-1, float64; u_0 = 0 and u_{L-1} = 1 exactly."""
    frames = check_frames(frames)
    fn = EASINGS[check_easing(easing, field)]
    if frames == 1:
        return np.zeros(1)
    u = fn(np.arange(frames, dtype=np.float64) / (frames - 1))
    u[0], u[-1] = 0.0, 1.0
    return u


def check_progress(progress, frames: int, field: str = "progress") -> np.ndarray:
    """Explicit per-frame timing (protocol 1.1): one finite share of the arrow in [0, 1] per
    frame, float64, or an error naming ``field``."""
    try:
        u = np.asarray(progress, dtype=np.float64)
    except (TypeError, ValueError):
        raise MotionInputError(field, f"expected {frames} numbers in [0, 1], got {progress!r}") from None
    if u.shape != (frames,):
        raise MotionInputError(field, f"expected one value per frame ({frames}), got shape {u.shape}")
    if not np.isfinite(u).all() or (u < 0).any() or (u > 1).any():
        raise MotionInputError(field, "expected finite values in [0, 1] (share of the arrow covered)")
    return u


def check_frames(frames: int, field: str = "frames") -> int:
    try:
        ok = not isinstance(frames, bool) and int(frames) == frames and frames >= 1
    except (TypeError, ValueError, OverflowError):      # None, "x", nan, inf
        ok = False
    if not ok:
        raise MotionInputError(field, f"expected a positive integer frame count, got {frames!r}")
    return int(frames)


class ArrowPath:
    """A polyline from tail (first point) to head (last point), parameterised by arc length."""

    def __init__(self, points, field: str = "arrow"):
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
            raise MotionInputError(f"{field}.points",
                                   f"expected at least 2 (x, y) points, got shape {pts.shape}")
        if not np.isfinite(pts).all():
            raise MotionInputError(f"{field}.points", "expected finite coordinates")
        seg = np.hypot(*np.diff(pts, axis=0).T)
        keep = np.concatenate([[True], seg > 0])            # repeated points add no length
        self.points = pts[keep]
        self.field = field
        self.cumulative = np.concatenate([[0.0], np.cumsum(seg[seg > 0])])
        self.length = float(self.cumulative[-1])
        if not self.length > 1e-9:
            raise MotionInputError(f"{field}.points",
                                   "arrow has zero length: draw it from tail to a different head")

    @property
    def tail(self) -> np.ndarray:
        return self.points[0]

    @property
    def head(self) -> np.ndarray:
        return self.points[-1]

    def point_at(self, s) -> np.ndarray:
        """Point(s) at arc length s (clamped to [0, length]); shape (..., 2)."""
        s = np.clip(np.asarray(s, dtype=np.float64), 0.0, self.length)
        x = np.interp(s, self.cumulative, self.points[:, 0])
        y = np.interp(s, self.cumulative, self.points[:, 1])
        return np.stack([x, y], axis=-1)

    def displacements(self, frames: int, easing: str = "linear", progress=None) -> np.ndarray:
        """(L, 2) float64 offsets from the tail; row 0 is 0 and row L-1 is head - tail exactly.

        ``progress`` (one share in [0, 1] per frame) replaces the easing: frame i sits at arc
        length progress[i] * length, as an offset from where frame 0 sits (the reference shows
        the region where its mask is), so holds and late starts are exact."""
        if progress is not None:
            u = check_progress(progress, check_frames(frames), self.field.rsplit(".arrow", 1)[0] + ".progress")
            return self.point_at(u * self.length) - self.point_at(u[0] * self.length)
        u = eased_times(frames, easing, f"{self.field}.easing")
        disp = self.point_at(u * self.length) - self.tail
        disp[0] = 0.0
        if len(disp) > 1:
            disp[-1] = self.head - self.tail
        return disp

    def tangent_angle(self, s) -> np.ndarray:
        """Direction (radians, image axes: y down) of the path at arc length(s) ``s``: the segment
        angles (unwrapped) interpolated between segment midpoints, so a curve turns smoothly."""
        seg = np.diff(self.points, axis=0)
        angles = np.unwrap(np.arctan2(seg[:, 1], seg[:, 0]))
        mids = (self.cumulative[:-1] + self.cumulative[1:]) / 2
        return np.interp(np.clip(np.asarray(s, dtype=np.float64), 0.0, self.length), mids, angles)

    def turn_angles(self, frames: int, easing: str = "linear", progress=None) -> np.ndarray:
        """(L,) radians: how far the path's direction has turned at each frame's position since
        frame 0's (timed like ``displacements``); 0 throughout for a straight arrow."""
        if progress is not None:
            u = check_progress(progress, check_frames(frames), self.field.rsplit(".arrow", 1)[0] + ".progress")
        else:
            u = eased_times(frames, easing, f"{self.field}.easing")
        angles = self.tangent_angle(u * self.length)
        return angles - angles[0]

    def scaled(self, sx: float, sy: float) -> "ArrowPath":
        """The same arrow in an image resized by (sx, sy) (pixel-centre convention)."""
        pts = (self.points + 0.5) * np.array([sx, sy]) - 0.5
        return ArrowPath(pts, self.field)

    def __repr__(self) -> str:
        return f"ArrowPath({len(self.points)} points, length={self.length:.2f})"
