"""Drawing P: a 4x4-pixel square per visible point per frame, coloured by component, on black."""
from __future__ import annotations

import numpy as np

from .errors import MotionInputError
from .trajectories import Trajectories

# Fixed, well-separated RGB colours, one per component, in component order. Training uses the
# first six (the paper's s = 6); the last two serve extra tracks at inference.
PALETTE = np.array([
    [255, 0, 0],       # red
    [0, 255, 0],       # green
    [0, 0, 255],       # blue
    [255, 255, 0],     # yellow
    [255, 0, 255],     # magenta
    [0, 255, 255],     # cyan
    [255, 128, 0],     # orange
    [128, 0, 255],     # violet
], dtype=np.uint8)
MAX_COMPONENTS = len(PALETTE)
SQUARE = 4


def square_origin(xy: np.ndarray) -> np.ndarray:
    """Top-left pixel (col, row) of the 4x4 square of each point: pixels round(x)-2 .. round(x)+1."""
    return (np.floor(np.asarray(xy, dtype=np.float64) + 0.5) - SQUARE // 2).astype(np.int64)


def render_trajectories(traj: Trajectories, height: int, width: int) -> np.ndarray:
    """P as uint8 (L, H, W, 3): squares drawn component by component, then point by point.

    Later squares overwrite earlier ones; squares partly or wholly outside the frame are
    clipped. Raises if there are more components than palette colours.
    """
    if height < 1 or width < 1:
        raise MotionInputError("size", f"expected a positive height and width, got {height}x{width}")
    if traj.num_components > MAX_COMPONENTS:
        raise MotionInputError("tracks", f"at most {MAX_COMPONENTS} components can be drawn "
                                         f"(palette size), got {traj.num_components}")
    frames = traj.num_frames
    out = np.zeros((frames, height, width, 3), dtype=np.uint8)
    order = np.argsort(traj.component, kind="stable")
    origins = square_origin(traj.positions)                          # (L, N, 2)
    dy, dx = np.mgrid[0:SQUARE, 0:SQUARE]
    dx, dy = dx.ravel(), dy.ravel()
    frame_index = np.repeat(np.arange(frames), SQUARE * SQUARE)
    for n in order:
        cols = (origins[:, n, 0][:, None] + dx).ravel()
        rows = (origins[:, n, 1][:, None] + dy).ravel()
        keep = (np.repeat(traj.visible[:, n], SQUARE * SQUARE)
                & (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height))
        out[frame_index[keep], rows[keep], cols[keep]] = PALETTE[traj.component[n]]
    return out
