"""Masks and coordinates between the reference image's size and the output size."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .errors import MotionInputError

_SHIFT = 8     # fillPoly fixed-point bits: polygons keep sub-pixel precision


def mask_from_polygons(polygons: Sequence, height: int, width: int, field: str = "polygons") -> np.ndarray:
    """Union of filled polygons (each (M, 2) xy in pixels, M >= 3) as a (H, W) bool mask.

    Each polygon is filled on its own so overlaps add up instead of cancelling (fillPoly's
    even-odd behaviour for several contours would punch holes).
    """
    if height < 1 or width < 1:
        raise MotionInputError("size", f"expected a positive height and width, got {height}x{width}")
    canvas = np.zeros((height, width), dtype=np.uint8)
    if len(polygons) == 0:
        raise MotionInputError(field, "expected at least one polygon")
    for i, poly in enumerate(polygons):
        pts = np.asarray(poly, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
            raise MotionInputError(f"{field}[{i}]", f"expected at least 3 (x, y) points, got shape {pts.shape}")
        if not np.isfinite(pts).all():
            raise MotionInputError(f"{field}[{i}]", "expected finite coordinates")
        fixed = np.round(pts * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(canvas, [fixed], 255, lineType=cv2.LINE_8, shift=_SHIFT)
    return canvas > 0


def scale_points(points, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """xy points from an image of (width, height) ``from_size`` to one of ``to_size`` (pixel centres)."""
    sx = to_size[0] / from_size[0]
    sy = to_size[1] / from_size[1]
    pts = np.asarray(points, dtype=np.float64)
    return (pts + 0.5) * np.array([sx, sy]) - 0.5


def resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A bool mask resampled to (height, width): area-weighted coverage, kept where >= 1/2.

    A thin mask that would vanish keeps the pixel nearest its densest spot, so resizing never
    turns a painted mask into an empty one.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape == (height, width):
        return mask.copy()
    src = mask.astype(np.float32)
    shrinking = height * width < mask.size
    cover = cv2.resize(src, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    out = cover >= 0.5
    if not out.any() and mask.any():
        out[np.unravel_index(int(np.argmax(cover)), cover.shape)] = True
    return out
