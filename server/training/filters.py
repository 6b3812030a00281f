"""The paper's clip filters: too little motion, and discontinuities (cuts, frame jumps).

Both are cheap statistics over what the builder already has (frames and tracks), so a clip is
rejected with a reason the manifest records instead of silently disappearing.
"""
from __future__ import annotations

import cv2
import numpy as np


def histogram_distances(frames: np.ndarray, bins: int = 32) -> np.ndarray:
    """Bhattacharyya distance between the HSV hue/saturation histograms of consecutive frames.

    0 = identical colour distribution, 1 = disjoint. A cut shows up as one isolated spike.
    """
    hists = []
    for frame in frames:
        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [bins, bins], [0, 180, 0, 256])
        hists.append(cv2.normalize(hist, None).astype(np.float32))
    return np.array([cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA)
                     for a, b in zip(hists[:-1], hists[1:])], np.float32)


def find_cut(frames: np.ndarray, threshold: float = 0.5) -> int | None:
    """Index of the first frame that starts a new shot, or None when the clip is continuous."""
    distances = histogram_distances(frames)
    above = np.flatnonzero(distances > threshold)
    return int(above[0]) + 1 if len(above) else None


def track_motion(positions: np.ndarray, visible: np.ndarray) -> float:
    """Median over points of their largest displacement from frame 0 while visible, in px.

    Only points seen in at least one later frame take part: a point that leaves the frame or
    is occluded says nothing about how far it moved (counting it as 0 px rejected a clip whose
    visible points moved 117 px, because most points became invisible). No such point: 0."""
    disp = np.linalg.norm(positions - positions[:1], axis=2)
    later = np.asarray(visible, bool).copy()
    later[0] = False
    seen = later.any(axis=0)
    if not seen.any():
        return 0.0
    largest = np.where(later, disp, -np.inf).max(axis=0)
    return float(np.median(largest[seen]))
