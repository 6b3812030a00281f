"""Extending a take, Blender-free: where each track stopped, the rest of its arrow, its mask
moved there, and its timing for the next part.

A shot longer than one job is made of parts. Each track's speed curve is sampled in *shot*
frames: part k covers shot frames offset+1 … offset+N, and the last frame of one part is the
reference (first frame) of the next, so parts share one frame and the joined strip skips it.
``u_start`` is where on the track's *original* arrow a part begins (0 for the first part).
"""
from __future__ import annotations

import numpy as np

HOLD_EPS = 1e-6


def arc_point(points, u: float) -> np.ndarray:
    """The point at share ``u`` of the polyline's length."""
    pts = np.asarray(points, dtype=np.float64)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = float(np.clip(u, 0.0, 1.0)) * cum[-1]
    return np.array([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])])


def remaining_arrow(points, u: float) -> np.ndarray:
    """The part of the arrow after share ``u``: the point at ``u`` then every later point."""
    pts = np.asarray(points, dtype=np.float64)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = float(np.clip(u, 0.0, 1.0)) * cum[-1]
    later = pts[cum > s + 1e-9]
    return np.vstack([arc_point(pts, u)[None], later])


def scale_points(points, from_size, to_size) -> np.ndarray:
    """Reference pixels of one size → another (pixel centres, as the server scales them)."""
    s = np.array([to_size[0] / from_size[0], to_size[1] / from_size[1]])
    return (np.asarray(points, dtype=np.float64) + 0.5) * s - 0.5


def moved_mask(mask: np.ndarray, shift_xy, out_size) -> np.ndarray:
    """The (H, W) uint8 mask shifted by ``shift_xy`` pixels (rounded; what leaves is lost) and
    resized by nearest neighbour to ``out_size`` (width, height)."""
    h, w = mask.shape
    dx, dy = (int(round(float(v))) for v in shift_xy)
    out = np.zeros_like(mask)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    if abs(dx) < w and abs(dy) < h:
        out[yd, xd] = mask[ys, xs]
    ow, oh = int(out_size[0]), int(out_size[1])
    rows = np.minimum(((np.arange(oh) + 0.5) * h / oh).astype(int), h - 1)
    cols = np.minimum(((np.arange(ow) + 0.5) * w / ow).astype(int), w - 1)
    return out[rows][:, cols]


def next_part(arrow, u_part_end: float, u_start: float, curve_values, frames: int
              ) -> tuple[np.ndarray, list, float, bool]:
    """For one track: (arrow of the next part in this part's reference pixels, its progress,
    u_start of the next part on the original arrow, held).

    ``arrow``: this part's arrow; ``u_part_end``: the share of it covered at this part's last
    frame; ``u_start``: where this part began on the original arrow; ``curve_values``: the
    original curve sampled at the next part's shot frames (None: the track had no curve, its
    arrow is used up). A track with nothing left holds still (a short arrow, progress 0)."""
    u_next = u_start + float(u_part_end) * (1.0 - u_start)     # on the original arrow
    rest = remaining_arrow(arrow, u_part_end)
    if curve_values is None or 1.0 - u_next < HOLD_EPS or len(rest) < 2:
        p = arc_point(arrow, u_part_end)
        return np.vstack([p, p + [1.0, 0.0]]), [0.0] * int(frames), u_next, True
    rel = [min(1.0, max(0.0, (float(v) - u_next) / (1.0 - u_next))) for v in curve_values]
    return rest, rel, u_next, False
