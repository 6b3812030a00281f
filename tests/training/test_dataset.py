"""Reading prepared clips back: P, per-frame motion masks, and the deterministic step order."""
from __future__ import annotations

import numpy as np
import pytest

from server.motion import PALETTE
from server.training.dataset import StepOrder, TrackDataset, component_motion_masks
from server.training.layout import DatasetFormatError

from .conftest import TINY_FRAMES, TINY_SIZE


def test_motion_masks_follow_the_tracked_points():
    mask = np.zeros((40, 50), bool)
    mask[10:20, 5:15] = True
    pts = np.array([[7, 12], [12, 12], [7, 17], [12, 17]], np.float32)
    shifts = np.array([[0, 0], [4, 2], [9, 5]], np.float32)
    positions = pts[None] + shifts[:, None]
    visible = np.ones((3, 4), bool)
    visible[2] = False                       # nobody seen in frame 2: the mask stays put
    out = component_motion_masks([mask], positions, visible, np.zeros(4, int))
    assert out.shape == (3, 40, 50)
    np.testing.assert_array_equal(out[0], mask)
    np.testing.assert_array_equal(out[1], np.roll(np.roll(mask, 2, 0), 4, 1))
    np.testing.assert_array_equal(out[2], out[1])


def test_dataset_samples(tiny_dataset):
    ds = TrackDataset(tiny_dataset, TINY_FRAMES, TINY_SIZE, TINY_SIZE)
    s = ds[1]
    assert s.frames.shape == (TINY_FRAMES, 3, TINY_SIZE, TINY_SIZE)
    assert -1.0 <= s.frames.min() and s.frames.max() <= 1.0
    assert s.trajectories.shape == (TINY_FRAMES, TINY_SIZE, TINY_SIZE, 3)
    # P draws component 0's points in its palette colour and nothing else.
    colours = {tuple(c) for c in s.trajectories.reshape(-1, 3).numpy().tolist()}
    assert colours == {(0, 0, 0), tuple(int(v) for v in PALETTE[0])}
    # The square moves 3 px per frame to the right; so does its mask.
    cols = [np.flatnonzero(s.masks[i].numpy().any(axis=0)) for i in range(TINY_FRAMES)]
    assert [c[0] - cols[0][0] for c in cols] == [3 * i for i in range(TINY_FRAMES)]
    with pytest.raises(DatasetFormatError, match="training expects 128x64"):
        TrackDataset(tiny_dataset, TINY_FRAMES, 128, 64)
    with pytest.raises(DatasetFormatError, match="training expects at least 9"):
        TrackDataset(tiny_dataset, 9, TINY_SIZE, TINY_SIZE)


def test_step_order_is_a_pure_function_covering_every_epoch():
    order = StepOrder(size=5, batch=2, seed=3)
    first = [order.items(s) for s in range(5)]           # 10 items = two epochs
    assert first == [StepOrder(5, 2, 3).items(s) for s in range(5)]
    flat = sum(first, [])
    assert sorted(flat[:5]) == list(range(5)) and sorted(flat[5:]) == list(range(5))
    assert StepOrder(5, 5, 4).items(0) != StepOrder(5, 5, 3).items(0)     # the seed matters


def test_damaged_masks_are_format_errors_naming_the_file(tmp_path):
    import shutil

    from .conftest import write_tiny_dataset
    root = write_tiny_dataset(tmp_path / "ds", clips=1)
    ds = TrackDataset(root, TINY_FRAMES, TINY_SIZE, TINY_SIZE)
    mask = root / "clips" / "clip0" / "masks" / "0.png"
    mask.write_bytes(b"not a png")                        # e.g. a truncated copy
    with pytest.raises(DatasetFormatError, match="0.png: unreadable mask"):
        ds[0]
    mask.unlink()
    with pytest.raises(DatasetFormatError, match="masks: no PNG masks"):
        ds[0]
    shutil.copy(root / "clips" / "clip0" / "frames" / "0000.png", mask.with_name("x.png"))
    with pytest.raises(DatasetFormatError, match="expected <j>.png"):
        ds[0]
