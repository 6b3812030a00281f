"""The reference's colours at their edges (``blender_addon.io.prepare.reference_srgb8``): the
8-bit pixels ``io.decode`` hands over (values × 255, bytes) are flipped and taken as they are,
8-bit floats scale by 255, and negative scene-linear values encode to black without warnings."""
from __future__ import annotations

import warnings

import numpy as np

from blender_addon.io import prepare as P
from tests.addon_io.test_prepare import blender_pixels, source, square_layer

# (H=2, W=3) RGBA, bottom row first, as io.decode writes an 8-bit image: each channel distinct
BYTES_BOTTOM = [[10, 20, 30, 40], [50, 60, 70, 80], [90, 100, 110, 120]]
BYTES_TOP = [[130, 140, 150, 160], [170, 180, 190, 200], [210, 220, 230, 250]]


def eight_bit_pixels() -> np.ndarray:
    return np.array(BYTES_BOTTOM + BYTES_TOP, dtype=np.uint8).ravel()


def test_eight_bit_bytes_are_flipped_and_taken_as_they_are():
    out = P.reference_srgb8(eight_bit_pixels(), 3, 2, is_float=False)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    assert out.tolist() == [[p[:3] for p in BYTES_TOP], [p[:3] for p in BYTES_BOTTOM]]
    # the same image as the float pixels Image.pixels would give (value / 255)
    as_floats = eight_bit_pixels().astype(np.float32) / 255.0
    assert np.array_equal(out, P.reference_srgb8(as_floats, 3, 2, is_float=False))


def test_a_job_from_eight_bit_bytes_is_the_job_from_their_floats():
    tracks = [P.TrackSource("Box", square_layer(8, 8, 24, 24), np.array([[16.0, 16.0], [40.0, 16.0]]), "linear")]
    floats = source(tracks)
    as_bytes = source(tracks, pixels=False)
    as_bytes.pixels = np.rint(floats.pixels * 255.0).astype(np.uint8)
    assert P.prepare(as_bytes).payloads[0] == P.prepare(floats).payloads[0]


def test_eight_bit_float_values_scale_by_255():
    px = np.array([0.75, 0.6, 1.0, 1.0], np.float32)      # one pixel
    assert P.reference_srgb8(px, 1, 1, is_float=False).tolist() == [[[191, 153, 255]]]


def test_negative_scene_linear_values_encode_to_black_without_warnings():
    px = blender_pixels(np.array([[[-0.5, -1e-6, 0.5]]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = P.reference_srgb8(px, 1, 1, is_float=True)
    assert out.tolist() == [[[0, 0, 188]]]


def test_pixels_as_a_plain_sequence_are_read_like_an_array():
    px = blender_pixels(np.array([[[0.25, 0.5, 1.0], [0.0, 0.75, 0.6]]]))
    listed = P.reference_srgb8(px.tolist(), 2, 1, is_float=False)       # no .dtype to look at
    assert np.array_equal(listed, P.reference_srgb8(px, 2, 1, is_float=False))
    assert listed.tolist() == [[[64, 128, 255], [0, 191, 153]]]
