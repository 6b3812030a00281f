"""Trajectory encoder E (Eq. 1): structure, resolution, input checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from server.trackgo.encoder import TrajectoryEncoder, trajectories_to_tensor


def test_six_convs_two_pools_one_final_fully_connected_layer():
    encoder = TrajectoryEncoder()
    convs = [m for m in encoder.layers if isinstance(m, nn.Conv2d)]
    pools = [m for m in encoder.layers if isinstance(m, nn.AvgPool2d)]
    assert len(convs) == 6 and len(pools) == 2
    assert encoder.fc.kernel_size == (1, 1) and encoder.fc.out_channels == 320


def test_f_is_at_latent_resolution_per_frame():
    encoder = TrajectoryEncoder(out_channels=16, channels=(8, 8, 16))
    points = np.zeros((5, 64, 96, 3), np.uint8)
    points[2, 10:14, 20:24] = 255
    f = encoder(trajectories_to_tensor(points))
    assert f.shape == (1, 5, 16, 8, 12)
    # frames are encoded independently: an empty frame gives the same features as another empty one
    assert torch.equal(f[0, 0], f[0, 1]) and not torch.equal(f[0, 1], f[0, 2])


def test_uint8_is_scaled_to_unit_range_with_black_at_zero():
    points = np.zeros((2, 8, 8, 3), np.uint8)
    points[0, 0, 0] = (255, 128, 0)
    tensor = trajectories_to_tensor(points)
    assert tensor.shape == (1, 2, 3, 8, 8)
    assert tensor[0, 0, :, 0, 0].tolist() == pytest.approx([1.0, 128 / 255, 0.0])
    assert tensor[0, 1].abs().sum() == 0


@pytest.mark.parametrize("array, message", [
    (np.zeros((2, 8, 8, 3), np.float32), "uint8"),
    (np.zeros((2, 8, 8), np.uint8), r"\(frames, height, width, 3\)"),
])
def test_bad_trajectory_arrays_name_the_field(array, message):
    with pytest.raises(ValueError, match=message):
        trajectories_to_tensor(array)


def test_size_not_multiple_of_8_is_refused():
    with pytest.raises(ValueError, match="multiples of 8"):
        TrajectoryEncoder()(torch.zeros(1, 2, 3, 60, 64))
