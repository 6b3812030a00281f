"""ObjMC, measured the way the field measures it (DragAnything's protocol), on OpenCV alone.

Per track, the anchor is the centre of the mask's largest inscribed circle (argmax of the
first-frame mask's distance transform); it is tracked through the generated frames with
pyramidal Lucas-Kanade; ObjMC is the plain mean Euclidean pixel distance between the tracked
anchor and the target trajectory over every (video, track, frame), frame 0 included.
For masks + arrows the target is anchor + arrow displacement; for real videos it is the anchor
tracked through the real clip (``track_anchor`` on those frames).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import cv2
import numpy as np

LK_WINDOW = (31, 31)          # px: large enough for textured photo regions at 576p
LK_LEVELS = 4                 # pyramid levels: follows ~2^4 * 15 px per frame
LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 0.01)


def anchor_from_mask(mask: np.ndarray, field: str = "mask") -> np.ndarray:
    """(2,) float32 xy of the mask pixel farthest from its border (first in raster order on ties)."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or not mask.any():
        raise ValueError(f"{field}: expected a non-empty 2-D mask, got shape {mask.shape}"
                         + ("" if mask.ndim != 2 else " with no pixel set"))
    padded = np.pad(mask.astype(np.uint8), 1)     # the image edge counts as border
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return np.array([col, row], dtype=np.float32)


def _grey(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise ValueError(f"frames: expected uint8 images, got {frame.dtype}")
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"frames: expected (H, W) or (H, W, 3) images, got shape {frame.shape}")


def _lk(prev: np.ndarray, nxt: np.ndarray, pts: np.ndarray, guess: np.ndarray | None = None):
    flags = 0
    nxt_pts = None
    if guess is not None:
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
        nxt_pts = guess.astype(np.float32).reshape(-1, 1, 2).copy()
    out, status, _ = cv2.calcOpticalFlowPyrLK(prev, nxt, pts.astype(np.float32).reshape(-1, 1, 2), nxt_pts,
                                              winSize=LK_WINDOW, maxLevel=LK_LEVELS, criteria=LK_CRITERIA,
                                              flags=flags)
    return out.reshape(-1, 2), status.reshape(-1).astype(bool)


def track_points(frames: Sequence[np.ndarray], points: np.ndarray) -> np.ndarray:
    """(L, N, 2) float32 positions of ``points`` (N, 2) from frame 0 through every frame.

    Each step tracks frame i-1 -> i (small motion, robust), then refines from frame 0 -> i
    starting at that estimate (no accumulated drift when appearance is kept). A point LK loses
    stays where it was last seen.
    """
    greys = [_grey(f) for f in frames]
    if not greys:
        raise ValueError("frames: expected at least one frame")
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    out = np.empty((len(greys), len(pts), 2), dtype=np.float32)
    out[0] = pts
    for i in range(1, len(greys)):
        step, ok_step = _lk(greys[i - 1], greys[i], out[i - 1])
        guess = np.where(ok_step[:, None], step, out[i - 1])
        refined, ok_ref = _lk(greys[0], greys[i], pts, guess)
        out[i] = np.where(ok_ref[:, None], refined, guess)
    return out


def track_anchor(frames: Sequence[np.ndarray], anchor: np.ndarray) -> np.ndarray:
    """(L, 2) positions of one anchor through ``frames``."""
    return track_points(frames, np.asarray(anchor).reshape(1, 2))[:, 0]


def objmc_errors(tracked: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per (track, frame) Euclidean distances between two (J, L, 2) trajectories."""
    tracked = np.asarray(tracked, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if tracked.shape != target.shape or tracked.shape[-1] != 2:
        raise ValueError(f"tracked/target: expected equal (..., 2) shapes, got {tracked.shape} and {target.shape}")
    return np.linalg.norm(tracked - target, axis=-1)


@dataclass(frozen=True)
class ObjMCResult:
    """One video: anchors (J, 2), tracked and target (J, L, 2), errors (J, L); ``value`` their mean."""

    anchors: np.ndarray
    tracked: np.ndarray
    target: np.ndarray
    errors: np.ndarray

    @property
    def value(self) -> float:
        return float(self.errors.mean())


def objmc_for_video(frames: Sequence[np.ndarray], masks: Sequence[np.ndarray], *,
                    displacements: Sequence[np.ndarray] | None = None,
                    targets: Sequence[np.ndarray] | None = None) -> ObjMCResult:
    """ObjMC of one generated video against its masks' intended motion.

    Give ``displacements`` (per track (L, 2) offsets from frame 0, e.g. ``ArrowPath.displacements``)
    for masks + arrows, or ``targets`` (per track (L, 2) absolute anchor positions, e.g. the anchor
    tracked through the real video).
    """
    if (displacements is None) == (targets is None):
        raise ValueError("objmc: give exactly one of displacements or targets")
    anchors = np.stack([anchor_from_mask(m, f"masks[{j}]") for j, m in enumerate(masks)])
    if displacements is not None:
        target = anchors[:, None, :] + np.stack([np.asarray(d, dtype=np.float64) for d in displacements])
    else:
        target = np.stack([np.asarray(t, dtype=np.float64) for t in targets])
    if target.shape != (len(masks), len(frames), 2):
        raise ValueError(f"objmc: expected targets shaped ({len(masks)}, {len(frames)}, 2), got {target.shape}")
    tracked = np.transpose(track_points(frames, anchors), (1, 0, 2))
    return ObjMCResult(anchors, tracked, target, objmc_errors(tracked, target))


def objmc_over_videos(results: Iterable[ObjMCResult]) -> float:
    """Mean over every (video, track, frame): long videos and many tracks weigh more, as in the field."""
    errors = [r.errors.ravel() for r in results]
    if not errors:
        raise ValueError("objmc: expected at least one video")
    return float(np.concatenate(errors).mean())
