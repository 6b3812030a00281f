"""Measures of the preview's background, shared by its tests and benchmarks/preview_objmc.py."""
from __future__ import annotations

import math

import cv2
import numpy as np

from server.backends.preview_render import CORE_GROW_PX, FEATHER_SHARE
from server.motion import ArrowPath


def _dilate(mask: np.ndarray, px: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def allowed_to_change(masks, arrows, easings, frames: int, i: int) -> np.ndarray:
    """Where frame i may differ from the reference with a still background: the holes the regions
    leave (their painted masks, grown by the rim and feather) and where they are now (same growth,
    moved by the arrow), plus 2 px for sampling."""
    h, w = masks[0].shape
    grow = CORE_GROW_PX + math.ceil(max(2.0, FEATHER_SHARE * min(h, w))) + 2
    easings = [easings] * len(masks) if isinstance(easings, str) else easings
    allowed = np.zeros((h, w), bool)
    for mask, arrow, easing in zip(masks, arrows, easings):
        grown = _dilate(mask, grow)
        dx, dy = ArrowPath(arrow).displacements(frames, easing)[i]
        moved = cv2.warpAffine(grown.astype(np.uint8), np.float32([[1, 0, dx], [0, 1, dy]]), (w, h),
                               flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE) > 0
        allowed |= grown | _dilate(moved, 1)
    return allowed


def background_changed_share(reference, video, masks, arrows, easings) -> tuple[float, int]:
    """(share of background pixels that differ from the reference in any frame, pixels counted)."""
    changed = counted = 0
    for i, frame in enumerate(video):
        background = ~allowed_to_change(masks, arrows, easings, len(video), i)
        changed += int((frame[background] != reference[background]).any(axis=1).sum())
        counted += int(background.sum())
    return (changed / counted if counted else 0.0), counted


def mean_gradient(image: np.ndarray, where: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    return float(np.hypot(gx, gy)[where].mean())


def fill_detail_share(plate: np.ndarray, holes: np.ndarray, ring_px: int = 16) -> float:
    """Detail of the filled area (mean gradient magnitude, 3 px in from its edge) as a share of
    its surroundings' (a ring of ``ring_px`` around it): 1 = as detailed, 0 = flat."""
    inner = ~_dilate(~holes, 3)
    ring = _dilate(holes, ring_px) & ~holes
    return mean_gradient(plate, inner) / max(1e-6, mean_gradient(plate, ring))
