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

LK_WINDOW = (31, 31)          # px: the largest window; smaller objects get one that fits inside them
LK_MIN_HALF = 4               # px: the smallest half-window (9x9)
LK_LEVELS = 4                 # pyramid levels: follows ~2^4 * 15 px per frame
LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 0.01)
REFINE_LEVELS = 1             # the drift-free refinement starts next to the answer: stay local
REFINE_RADIUS = 2.0           # px: a refinement further than this from the step estimate is rejected
SEARCH_RADIUS = 24            # px: template search around the constant-velocity prediction
PRIOR_WEIGHT = 0.25           # grey levels per px from the prediction: repetitive texture tie-break


def _inscribed(mask: np.ndarray, field: str) -> tuple[np.ndarray, float]:
    mask = np.asarray(mask)
    if mask.ndim != 2 or not mask.any():
        raise ValueError(f"{field}: expected a non-empty 2-D mask, got shape {mask.shape}"
                         + ("" if mask.ndim != 2 else " with no pixel set"))
    padded = np.pad(mask.astype(np.uint8), 1)     # the image edge counts as border
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return np.array([col, row], dtype=np.float32), float(dist[row, col])


def anchor_from_mask(mask: np.ndarray, field: str = "mask") -> np.ndarray:
    """(2,) float32 xy of the mask pixel farthest from its border (first in raster order on ties)."""
    return _inscribed(mask, field)[0]


def window_for_mask(mask: np.ndarray, field: str = "mask") -> tuple[int, int]:
    """LK window that fits the mask's largest inscribed circle (9x9 .. 31x31).

    A window larger than the object would weigh in the background around it, which may hold
    still while the object moves, and pull the track off the object.
    """
    half = int(np.clip(np.floor(_inscribed(mask, field)[1]), LK_MIN_HALF, LK_WINDOW[0] // 2))
    return (2 * half + 1, 2 * half + 1)


def _grey(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise ValueError(f"frames: expected uint8 images, got {frame.dtype}")
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"frames: expected (H, W) or (H, W, 3) images, got shape {frame.shape}")


def _lk(prev: np.ndarray, nxt: np.ndarray, pts: np.ndarray, guess: np.ndarray | None = None,
        levels: int = LK_LEVELS, window: tuple[int, int] = LK_WINDOW):
    flags = 0
    nxt_pts = None
    if guess is not None:
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
        nxt_pts = guess.astype(np.float32).reshape(-1, 1, 2).copy()
    out, status, _ = cv2.calcOpticalFlowPyrLK(prev, nxt, pts.astype(np.float32).reshape(-1, 1, 2), nxt_pts,
                                              winSize=window, maxLevel=levels, criteria=LK_CRITERIA,
                                              flags=flags)
    return out.reshape(-1, 2), status.reshape(-1).astype(bool)


def _patch_error(template: np.ndarray, grey: np.ndarray, xy: np.ndarray, window: tuple[int, int]) -> float:
    """Root-mean-square grey difference between ``template`` and the patch centred at ``xy``."""
    patch = cv2.getRectSubPix(grey, window, (float(xy[0]), float(xy[1]))).astype(np.float32)
    return float(np.sqrt(np.mean((patch - template) ** 2)))


def _template_search(template: np.ndarray, grey: np.ndarray, centre: np.ndarray):
    """Best match of ``template`` within SEARCH_RADIUS of ``centre``: RMS difference + the motion prior."""
    th, tw = template.shape
    size = (tw + 2 * SEARCH_RADIUS, th + 2 * SEARCH_RADIUS)
    area = cv2.getRectSubPix(grey, size, (float(centre[0]), float(centre[1]))).astype(np.float32)
    rms = np.sqrt(np.maximum(cv2.matchTemplate(area, template, cv2.TM_SQDIFF), 0) / template.size)
    offsets = np.arange(-SEARCH_RADIUS, SEARCH_RADIUS + 1, dtype=np.float32)
    scores = rms + PRIOR_WEIGHT * np.hypot(offsets[None, :], offsets[:, None])
    _, _, best, _ = cv2.minMaxLoc(scores)
    found = np.asarray(centre, np.float32) + (np.float32(best) - SEARCH_RADIUS)
    return found.reshape(1, 2), np.array([True])


def track_anchor(frames: Sequence[np.ndarray], anchor: np.ndarray,
                 window: tuple[int, int] = LK_WINDOW) -> np.ndarray:
    """(L, 2) float32 positions of one anchor from frame 0 through every frame.

    Step i weighs three hypotheses for frame i-1 -> i: pyramidal LK started at the
    constant-velocity prediction (local: a window that fits inside a small object is not
    dragged by the still background at coarse pyramid levels), pyramidal LK from scratch with
    the full pyramid (sudden moves), and the best match of the anchor's frame-0 patch within
    SEARCH_RADIUS of the prediction (flat or repetitive texture, where LK slides). Each is
    refined by LK against frame 0 at full resolution (no drift while the appearance is kept;
    dropped if it wanders more than REFINE_RADIUS), and the one whose patch best matches the
    anchor's frame-0 patch (root-mean-square grey difference, plus PRIOR_WEIGHT per px away from
    the prediction, so a still copy of a repetitive texture does not beat the moving original)
    wins. A lost anchor keeps its place. Every position is kept inside the frame (pixel
    centres 0..W-1, 0..H-1): an object leaving the picture is scored where it was last seen at
    the border, never at coordinates no frame has (x = -181 on 64-px frames was seen).
    """
    greys = [_grey(f) for f in frames]
    if not greys:
        raise ValueError("frames: expected at least one frame")
    height, width = greys[0].shape
    upper = np.array([width - 1, height - 1], dtype=np.float32)
    inside = lambda xy: np.clip(xy, 0.0, upper).astype(np.float32)   # noqa: E731
    anchor = inside(np.asarray(anchor, dtype=np.float32).reshape(1, 2))
    template = cv2.getRectSubPix(greys[0], window, (float(anchor[0, 0]), float(anchor[0, 1]))).astype(np.float32)
    out = np.empty((len(greys), 2), dtype=np.float32)
    out[0] = anchor[0]
    velocity = np.zeros(2, dtype=np.float32)
    for i in range(1, len(greys)):
        prev = out[i - 1].reshape(1, 2)
        hypotheses = [_lk(greys[i - 1], greys[i], prev, prev + velocity, REFINE_LEVELS, window),
                      _lk(greys[i - 1], greys[i], prev, None, LK_LEVELS, window),
                      _template_search(template, greys[i], out[i - 1] + velocity)]
        best, best_error = out[i - 1], np.inf
        for candidate, ok in hypotheses:
            if not ok[0]:
                continue
            candidate = inside(candidate)
            refined, ok_ref = _lk(greys[0], greys[i], anchor, candidate, 0, window)
            if ok_ref[0] and np.linalg.norm(refined - candidate) <= REFINE_RADIUS:
                candidate = inside(refined)
            error = (_patch_error(template, greys[i], candidate[0], window)
                     + PRIOR_WEIGHT * float(np.linalg.norm(candidate[0] - (out[i - 1] + velocity))))
            if error < best_error:
                best, best_error = candidate[0], error
        out[i] = inside(best)
        velocity = out[i] - out[i - 1]
    return out


def track_points(frames: Sequence[np.ndarray], points: np.ndarray,
                 window: tuple[int, int] = LK_WINDOW) -> np.ndarray:
    """(L, N, 2): ``track_anchor`` for each of ``points`` (N, 2)."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    return np.stack([track_anchor(frames, p, window) for p in pts], axis=1)


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
    if len(frames) == 0 or len(masks) == 0:
        raise ValueError(f"objmc: expected at least one frame and one mask, got {len(frames)} frames "
                         f"and {len(masks)} masks")
    name, given = ("displacements", displacements) if displacements is not None else ("targets", targets)
    if len(given) != len(masks):
        raise ValueError(f"{name}: expected one per mask ({len(masks)}), got {len(given)}")
    for j, item in enumerate(given):
        if np.shape(item) != (len(frames), 2):
            raise ValueError(f"{name}[{j}]: expected shape ({len(frames)}, 2), one (x, y) per frame, "
                             f"got {np.shape(item)}")
    size = np.asarray(frames[0]).shape[:2]
    for j, m in enumerate(masks):
        if np.shape(m) != size:
            raise ValueError(f"masks[{j}]: expected the frames' size {size}, got {np.shape(m)}")
    anchors = np.stack([anchor_from_mask(m, f"masks[{j}]") for j, m in enumerate(masks)])
    if displacements is not None:
        target = anchors[:, None, :] + np.stack([np.asarray(d, dtype=np.float64) for d in displacements])
    else:
        target = np.stack([np.asarray(t, dtype=np.float64) for t in targets])
    tracked = np.stack([track_anchor(frames, anchors[j], window_for_mask(m)) for j, m in enumerate(masks)])
    return ObjMCResult(anchors, tracked, target, objmc_errors(tracked, target))


def objmc_over_videos(results: Iterable[ObjMCResult]) -> float:
    """Mean over every (video, track, frame): long videos and many tracks weigh more, as in the field."""
    errors = [r.errors.ravel() for r in results]
    if not errors:
        raise ValueError("objmc: expected at least one video")
    return float(np.concatenate(errors).mean())
