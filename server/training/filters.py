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
    """Median over points of the largest displacement from frame 0 while visible, in px."""
    disp = np.linalg.norm(positions - positions[:1], axis=2)
    disp = np.where(visible, disp, 0.0)
    if disp.shape[1] == 0:
        return 0.0
    return float(np.median(disp.max(axis=0)))
