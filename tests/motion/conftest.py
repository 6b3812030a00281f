"""Masks shared by the trajectory tests."""
import numpy as np
import pytest


@pytest.fixture
def c_mask():
    """A C-shaped (non-convex) mask: K-means centres tend to land in its gap."""
    mask = np.zeros((120, 160), dtype=bool)
    mask[10:110, 10:40] = True        # spine
    mask[10:35, 10:150] = True        # top bar
    mask[85:110, 10:150] = True       # bottom bar
    return mask


@pytest.fixture
def box_mask():
    mask = np.zeros((90, 160), dtype=bool)
    mask[20:50, 30:80] = True
    return mask
