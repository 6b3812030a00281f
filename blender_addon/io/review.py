"""Comparing a take with the plate, Blender-free: onion skin and A/B wipe of two RGB images."""
from __future__ import annotations

import numpy as np


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W, C) image to (height, width, C)."""
    h, w = image.shape[:2]
    rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(int), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(int), w - 1)
    return image[rows][:, cols]


def onion(plate: np.ndarray, take: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """The take over the plate at ``opacity`` (0: plate only, 1: take only), float32 0–1."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity: expected a number in [0, 1], got {opacity!r}")
    a = fit(plate, take.shape[1], take.shape[0]).astype(np.float32)
    return ((1.0 - opacity) * a + opacity * take.astype(np.float32)) / 255.0


def wipe(plate: np.ndarray, take: np.ndarray, split: float = 0.5) -> np.ndarray:
    """A/B: the take left of ``split`` (share of the width), the plate right of it, float32 0–1."""
    if not 0.0 <= split <= 1.0:
        raise ValueError(f"split: expected a number in [0, 1], got {split!r}")
    a = fit(plate, take.shape[1], take.shape[0]).astype(np.float32)
    out = a.copy()
    cut = int(round(split * take.shape[1]))
    out[:, :cut] = take[:, :cut]
    return out / 255.0
