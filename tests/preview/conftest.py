"""Scenes for the preview tests: synthetic ones with known answers, and bundled photographs."""
import cv2
import numpy as np
import pytest
from skimage import data

GREY = (128, 128, 128)
RED = (230, 30, 30)


def disc_mask(height, width, centre, radius):
    mask = np.zeros((height, width), np.uint8)
    cv2.circle(mask, (int(centre[0]), int(centre[1])), int(radius), 1, -1)
    return mask > 0


def red_disc_scene(height=288, width=512, centre=(150, 140), radius=40):
    """Uniform grey with one red disc; returns (reference, mask)."""
    ref = np.empty((height, width, 3), np.uint8)
    ref[:] = GREY
    mask = disc_mask(height, width, centre, radius)
    ref[mask] = RED
    return ref, mask


def redness(frame):
    """Per-pixel share of 'red disc' in [0, 1] (1 = RED, 0 = GREY), from the red-green difference."""
    diff = frame[..., 0].astype(np.float64) - frame[..., 1].astype(np.float64)
    return np.clip(diff / (RED[0] - RED[1]), 0.0, 1.0)


def weighted_centre(weight):
    rows, cols = np.indices(weight.shape)
    total = weight.sum()
    return np.array([(cols * weight).sum() / total, (rows * weight).sum() / total])


def photo(name, width, height):
    """A bundled scikit-image photograph, RGB uint8, stretched to (width, height)."""
    image = getattr(data, name)()
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.resize(image[..., :3], (width, height), interpolation=cv2.INTER_AREA)


@pytest.fixture
def scene():
    return red_disc_scene()
