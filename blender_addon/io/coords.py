"""Coordinate conversions between Blender's 2D spaces and reference-image pixels.

Pixel coordinates (what the wire protocol carries) are continuous: x to the right, y down,
(0, 0) the top-left corner of the top-left pixel, (w, h) the bottom-right corner.
All functions are pure and accept/return numpy arrays of shape (..., 2).
"""
from __future__ import annotations

import numpy as np


def _as_xy(points) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] < 2:
        raise ValueError(f"points: expected (..., 2) coordinates, got shape {arr.shape}")
    return arr[..., :2]


def normalized_to_pixels(points, width: int, height: int) -> np.ndarray:
    """0–1 image space, y up (Image Editor annotations, camera view) → pixels, y down."""
    uv = _as_xy(points)
    out = np.empty_like(uv)
    out[..., 0] = uv[..., 0] * width
    out[..., 1] = (1.0 - uv[..., 1]) * height
    return out


def pixels_to_normalized(points, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`normalized_to_pixels` (used to draw the overlay in view space)."""
    px = _as_xy(points)
    out = np.empty_like(px)
    out[..., 0] = px[..., 0] / width
    out[..., 1] = 1.0 - px[..., 1] / height
    return out


def mask_to_pixels(points, width: int, height: int) -> np.ndarray:
    """Mask datablock space → pixels.

    Blender keeps mask coordinates aspect-correct: the image's longer side spans 0–1 and the
    shorter side is centred in it (``BKE_mask_coord_from_frame``). So one mask unit is
    ``max(width, height)`` pixels in both directions, centred on the image centre.
    """
    co = _as_xy(points)
    side = float(max(width, height))
    out = np.empty_like(co)
    out[..., 0] = (co[..., 0] - 0.5) * side + width / 2.0
    out[..., 1] = height / 2.0 - (co[..., 1] - 0.5) * side
    return out


def pixels_to_mask(points, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`mask_to_pixels` (tests and the demo build masks from pixel shapes)."""
    px = _as_xy(points)
    side = float(max(width, height))
    out = np.empty_like(px)
    out[..., 0] = (px[..., 0] - width / 2.0) / side + 0.5
    out[..., 1] = (height / 2.0 - px[..., 1]) / side + 0.5
    return out


def mask_length_to_pixels(length: float, width: int, height: int) -> float:
    """A distance in mask units (feather width) in pixels."""
    return float(length) * float(max(width, height))
