"""Which points of a mask carry its motion: Eq. 10's K, then K-means over 3K random pixels.

Coordinates are OpenCV's: x is the column, y the row, and the integer position (x, y) is the
centre of pixel ``mask[y, x]``.
"""
from __future__ import annotations

import threading

import cv2
import numpy as np

from shared_protocol import point_count
from shared_protocol.point_count import K_MAX, K_MIN, P_HIGH, P_LOW  # noqa: F401  (re-exported)

from .errors import MotionInputError

# cv2.kmeans draws its k-means++ seeds from OpenCV's RNG; seeding it and running k-means must
# not interleave with another thread doing the same.
_KMEANS_LOCK = threading.Lock()


def points_per_component(area_share: float) -> int:
    """Eq. 10 (``shared_protocol.point_count``, shared with the add-on), errors as MotionInputError."""
    try:
        return point_count.points_per_component(area_share)
    except point_count.PointCountError as exc:
        raise MotionInputError("area_share", str(exc)) from None


def check_mask(mask: np.ndarray, field: str = "mask") -> np.ndarray:
    """A 2-D boolean mask with at least one pixel set, or a MotionInputError naming ``field``."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.shape[0] < 1 or mask.shape[1] < 1:
        raise MotionInputError(field, f"expected a 2-D (height, width) mask, got shape {mask.shape}")
    mask = mask.astype(bool, copy=False)
    if not mask.any():
        raise MotionInputError(field, "mask is empty: paint at least one pixel")
    return mask


def snap_inside(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Move each point whose pixel lies outside ``mask`` to the nearest pixel inside it.

    K-means centres of a non-convex mask (a C, a ring) can fall in the gap; the distance
    transform's labels name the nearest mask pixel for every outside pixel in one pass.
    """
    points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    h, w = mask.shape
    cols = np.clip(np.floor(points[:, 0] + 0.5).astype(np.int64), 0, w - 1)
    rows = np.clip(np.floor(points[:, 1] + 0.5).astype(np.int64), 0, h - 1)
    outside = ~mask[rows, cols]
    if not outside.any():
        return points
    # distanceTransform measures to the nearest zero pixel: make the mask the zeros.
    source = np.where(mask, 0, 255).astype(np.uint8)
    _, labels = cv2.distanceTransformWithLabels(
        source, cv2.DIST_L2, cv2.DIST_MASK_PRECISE, labelType=cv2.DIST_LABEL_PIXEL)
    # Every zero pixel has its own label; build label -> (x, y) from the zero pixels themselves.
    zero_rows, zero_cols = np.nonzero(mask)
    lookup = np.zeros((labels.max() + 1, 2), dtype=np.float32)
    lookup[labels[zero_rows, zero_cols]] = np.stack([zero_cols, zero_rows], axis=1)
    snapped = points.copy()
    snapped[outside] = lookup[labels[rows[outside], cols[outside]]]
    return snapped


def sample_points(mask: np.ndarray, k: int | None, seed: int, *, field: str = "mask") -> np.ndarray:
    """K points (float32 xy, shape (K, 2)) that stand for ``mask``: same seed, same points.

    3K distinct random mask pixels (numpy Generator seeded with ``seed``) are reduced to K
    centres by cv2.kmeans (k-means++ with OpenCV's RNG seeded from the same seed); centres that
    land outside the mask are snapped to the nearest pixel inside. ``k=None`` takes K from
    Eq. 10. A mask with at most K pixels gives its pixels themselves (fewer than K points).
    Points are sorted by (y, x) so their order does not depend on k-means' label order.
    """
    mask = check_mask(mask, field)
    if k is None:
        k = points_per_component(mask.mean())
    try:
        ok = not isinstance(k, bool) and int(k) == k and k >= 1
    except (TypeError, ValueError, OverflowError):      # "x", nan, inf
        ok = False
    if not ok:
        raise MotionInputError(f"{field}.k", f"expected a positive integer point count, got {k!r}")
    k = int(k)
    rows, cols = np.nonzero(mask)
    pixels = np.stack([cols, rows], axis=1).astype(np.float32)
    if len(pixels) <= k:
        chosen = pixels
    else:
        rng = np.random.default_rng(seed)
        take = min(3 * k, len(pixels))
        candidates = pixels[rng.choice(len(pixels), size=take, replace=False)]
        if take == k:
            chosen = candidates
        else:
            criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-3)
            cv_seed = int(rng.integers(0, 2**31 - 1))
            with _KMEANS_LOCK:
                cv2.setRNGSeed(cv_seed)
                _, _, centres = cv2.kmeans(candidates, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
            chosen = snap_inside(centres.astype(np.float32), mask)
    order = np.lexsort((chosen[:, 0], chosen[:, 1]))
    return np.ascontiguousarray(chosen[order], dtype=np.float32)
