"""Automatic mask ↔ arrow pairing: each mask takes the nearest arrow whose tail is inside it.

Greedy over all (mask, arrow) pairs sorted by (distance from the tail to the mask, distance
from the tail to the mask's centroid): a tail inside a mask has distance 0 and wins; a tail
slightly outside (within ``tolerance`` pixels, default 2 % of the image diagonal: a stroke
started just off the edge) still counts; farther tails are never paired. Each mask and each
arrow is used at most once. The user can override the result in the UI.
"""
from __future__ import annotations

import numpy as np


def _tail_cost(mask: np.ndarray, tail) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (float("inf"), float("inf"))
    cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
    tx, ty = float(tail[0]), float(tail[1])
    col, row = int(np.floor(tx)), int(np.floor(ty))
    inside = 0 <= row < mask.shape[0] and 0 <= col < mask.shape[1] and bool(mask[row, col])
    outside = 0.0 if inside else float(np.min(np.hypot(xs + 0.5 - tx, ys + 0.5 - ty)))
    return (outside, float(np.hypot(cx - tx, cy - ty)))


def auto_pair(masks: list[np.ndarray], tails: list, tolerance: float | None = None) -> dict[int, int]:
    """Map mask index → arrow index. Masks are (H, W) bool/uint8; tails are (x, y) pixels."""
    if tolerance is None and masks:
        h, w = np.asarray(masks[0]).shape[:2]
        tolerance = 0.02 * float(np.hypot(w, h))
    costs = []
    for mi, mask in enumerate(masks):
        m = np.asarray(mask) > (127 if np.asarray(mask).dtype == np.uint8 else 0)
        for ai, tail in enumerate(tails):
            costs.append((_tail_cost(m, tail), mi, ai))
    costs.sort()
    pairs: dict[int, int] = {}
    used = set()
    for cost, mi, ai in costs:
        if mi in pairs or ai in used or cost[0] > (tolerance or 0.0):
            continue
        pairs[mi] = ai
        used.add(ai)
    return pairs
