"""A textured synthetic video whose true motion is known exactly (integer shifts of a noise image)."""
import cv2
import numpy as np
import pytest


def texture(height, width, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, size=(height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min()) * 255
    return cv2.cvtColor(smooth.astype(np.uint8), cv2.COLOR_GRAY2RGB)


@pytest.fixture
def shifting_video():
    """(frames, shifts): a 160x240 texture translated by integer shifts (dx, dy) per frame."""
    base = texture(220, 300)
    shifts = np.array([[0, 0], [2, 1], [5, 2], [9, 4], [14, 5], [18, 7], [21, 9]])
    frames = [np.ascontiguousarray(base[30 - dy:190 - dy, 30 - dx:270 - dx]) for dx, dy in shifts]
    return frames, shifts.astype(np.float64)
