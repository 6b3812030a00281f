"""How the reference maps onto the output frame (``blender_addon.io.framing``): the chosen size,
crop / pad / stretch maps, and resampling checked against values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

import shared_protocol as sp
from blender_addon.io import framing as F


def test_output_size_keeps_the_aspect_near_the_models_area():
    assert F.output_size(3840, 2160) == (1024, 576)          # 16:9 at exactly SVD's area
    assert F.output_size(4096, 4096) == (768, 768)           # square: 768² is the nearest area
    assert F.output_size(576, 1024) == (576, 1024)
    assert F.output_size(1000, 10) == (2048, 64)             # as wide as the limits allow
    assert (F.STEP, F.TARGET_PIXELS) == (64, 1024 * 576)


def test_output_size_respects_the_servers_limits_and_step():
    small = sp.Limits(max_width=512, max_height=512, max_pixels=512 * 512)
    assert F.output_size(3840, 2160, small) == (448, 256)
    w, h = F.output_size(3840, 2160, sp.Limits(max_width=4096, max_height=4096, max_pixels=256 * 256))
    assert w * h <= 256 * 256 and (w, h) == (320, 192)
    assert F.output_size(100, 100, target_pixels=128 * 128) == (128, 128)
    assert F.output_size(300, 200, step=10, target_pixels=600) == (30, 20)
    assert F.output_size(64, 64, sp.Limits(max_width=64, max_height=64, max_pixels=64 * 64)) == (64, 64)
    assert F.output_size(10, 1000, sp.Limits(max_width=128, max_height=2048, max_pixels=2048 * 128)) == (64, 2048)
    # a limit that allows nothing at all leaves the smallest step
    assert F.output_size(300, 200, sp.Limits(max_width=32, max_height=32, max_pixels=32 * 32)) == (64, 64)
    # the area counts after the aspect: 2:1 at 4 * 64² px is 128x64 ... and 256x128 at 4x that area
    assert F.output_size(200, 100, target_pixels=128 * 64) == (128, 64)
    assert F.output_size(200, 100, target_pixels=256 * 128) == (256, 128)
    # the widest size right at max_pixels is allowed
    assert F.output_size(4, 1, sp.Limits(max_width=256, max_height=2048, max_pixels=256 * 64)) == (256, 64)


def test_each_limit_binds_on_its_own():
    portrait = F.output_size(10, 1000, sp.Limits(max_width=2048, max_height=256, max_pixels=2048 * 2048))
    assert portrait[1] <= 256 and portrait == (64, 256)
    # limits that are not multiples of the step: never one step over them
    assert F.output_size(1000, 10, sp.Limits(max_width=127, max_height=2048, max_pixels=2048 * 2048))[0] == 64
    assert F.output_size(10, 1000, sp.Limits(max_width=2048, max_height=127, max_pixels=2048 * 2048))[1] == 64
    # 16:9 at SVD's area would fit exactly; one pixel less allowed and it may not be chosen
    w, h = F.output_size(3840, 2160, sp.Limits(max_pixels=1024 * 576 - 1))
    assert w * h <= 1024 * 576 - 1 and (w, h) != (1024, 576)
    assert F.output_size(1, 1, None) == (768, 768)
    assert F.output_size(1, 10) == F.output_size(10, 100)               # a 1-pixel-wide reference is fine


@pytest.mark.parametrize("w,h", [(0, 10), (10, 0), (-1, 5)])
def test_output_size_refuses_an_empty_reference(w, h):
    with pytest.raises(ValueError, match=rf"^reference size: expected positive width and height, got {w}x{h}$"):
        F.output_size(w, h)


def test_crop_fills_the_frame_and_centres_the_overflow():
    fr = F.framing(200, 100, 128, 128, "crop")
    assert (fr.sx, fr.sy, fr.tx, fr.ty) == (1.28, 1.28, (128 - 256) / 2, 0.0)
    assert (fr.ref_w, fr.ref_h, fr.out_w, fr.out_h, fr.mode) == (200, 100, 128, 128, "crop")
    assert F.framing(200, 100, 128, 128).mode == "crop"            # the default


def test_pad_shows_everything_with_bars():
    fr = F.framing(200, 100, 128, 128, "pad")
    assert (fr.sx, fr.sy, fr.tx, fr.ty) == (0.64, 0.64, 0.0, (128 - 64) / 2)
    tall = F.framing(100, 200, 128, 128, "pad")
    assert (tall.sx, tall.tx, tall.ty) == (0.64, 32.0, 0.0)


def test_stretch_scales_each_axis_on_its_own():
    fr = F.framing(200, 100, 128, 128, "stretch")
    assert (fr.sx, fr.sy, fr.tx, fr.ty) == (0.64, 1.28, 0.0, 0.0)
    with pytest.raises(ValueError, match=r"^fit: expected one of crop, pad, stretch, got 'zoom'$"):
        F.framing(200, 100, 128, 128, "zoom")


def test_the_map_and_its_inverse():
    fr = F.Framing(10, 10, 20, 20, "crop", 2.0, 3.0, 5.0, -1.0)
    assert np.allclose(fr.to_output([[1.0, 1.0], [0.0, 2.0]]), [[7.0, 2.0], [5.0, 5.0]])
    assert np.allclose(fr.to_reference([[7.0, 2.0], [5.0, 5.0]]), [[1.0, 1.0], [0.0, 2.0]])
    assert fr.to_output([[1, 1]]).dtype == np.float64
    assert fr.to_body() == {"ref_w": 10, "ref_h": 10, "out_w": 20, "out_h": 20, "mode": "crop",
                            "sx": 2.0, "sy": 3.0, "tx": 5.0, "ty": -1.0}


def test_box_reduce_averages_whole_blocks():
    img = np.arange(24, dtype=np.uint8).reshape(4, 6)
    out = F._box_reduce(img, 2, 2)
    assert out.dtype == np.float32 and out.tolist() == [[3.5, 5.5, 7.5], [15.5, 17.5, 19.5]]
    assert F._box_reduce(img, 3, 1).tolist() == [[1, 4], [7, 10], [13, 16], [19, 22]]
    assert F._box_reduce(img, 2, 1).tolist()[0] == [0.5, 2.5, 4.5]
    assert F._box_reduce(img, 1, 2).tolist() == [[3, 4, 5, 6, 7, 8], [15, 16, 17, 18, 19, 20]]
    assert F._box_reduce(img, 4, 3).tolist() == [[7.5]]               # the partial blocks are dropped
    assert F._box_reduce(img, 1, 1) is img
    rgb = np.stack([img, img * 0 + 10], axis=-1)
    assert F._box_reduce(rgb, 2, 2)[..., 1].tolist() == [[10, 10, 10], [10, 10, 10]]


def test_bilinear_upscaling_by_hand():
    img = np.array([[0, 100], [200, 255]], np.uint8)
    out = F.resample(img, F.framing(2, 2, 4, 4, "stretch"))
    # output centres map to source x (or y) = -0.25, 0.25, 0.75, 1.25 (clamped at the ends)
    assert out.dtype == np.uint8
    assert out.tolist() == [[0, 25, 75, 100], [50, 72, 117, 139], [150, 167, 200, 216], [200, 214, 241, 255]]
    near = F.resample(img, F.framing(2, 2, 4, 4, "stretch"), nearest=True)
    assert near.tolist() == [[0, 0, 100, 100], [0, 0, 100, 100], [200, 200, 255, 255], [200, 200, 255, 255]]


def test_rgb_images_resample_each_channel():
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 0] = [[0, 100], [200, 255]]
    img[..., 2] = 9
    out = F.resample(img, F.framing(2, 2, 4, 4, "stretch"))
    assert out.shape == (4, 4, 3)
    assert out[..., 0].tolist()[1] == [50, 72, 117, 139] and (out[..., 2] == 9).all() and (out[..., 1] == 0).all()


def test_shrinking_averages_the_area_first():
    img = np.zeros((4, 8), np.uint8)
    img[:, ::2] = 255                       # stripes one pixel wide
    out = F.resample(img, F.framing(8, 4, 4, 2, "stretch"))
    assert (out == 128).all()               # 127.5 everywhere, not every other stripe
    near = F.resample(img, F.framing(8, 4, 4, 2, "stretch"), nearest=True)
    assert set(np.unique(near)) <= {0, 255}
    # a factor that is not whole: blocks of int(1 / s) pixels (2 here, at s = 0.4)
    out = F.resample(img, F.framing(8, 4, 3, 2, "stretch"))
    assert out.shape == (2, 3) and (np.abs(out.astype(int) - 128) <= 1).all()
    wide = F.resample(img, F.framing(8, 4, 4, 4, "stretch"))     # halved across only
    assert (wide == 128).all()
    tall = np.zeros((8, 4), np.uint8)
    tall[::2] = 255
    assert (F.resample(tall, F.framing(4, 8, 2, 4, "stretch")) == 128).all()


def test_shrinking_by_four_averages_all_four_on_each_axis():
    # one bright line in four: the area average is 255 / 4; a bilinear sample would fall between
    # two dark lines and see 0
    rows = np.zeros((16, 4), np.uint8)
    rows[::4] = 255
    assert (F.resample(rows, F.framing(4, 16, 4, 4, "stretch")) == 64).all()
    cols = np.ascontiguousarray(rows.T)
    assert (F.resample(cols, F.framing(16, 4, 4, 4, "stretch")) == 64).all()
    both = np.zeros((16, 16), np.uint8)
    both[::4, ::4] = 255
    assert (F.resample(both, F.framing(16, 16, 4, 4, "stretch")) == 16).all()


def test_crop_takes_the_middle_and_pad_fills_outside():
    img = np.arange(8, dtype=np.float32).reshape(2, 4)
    crop = F.resample(img, F.framing(4, 2, 2, 2, "crop"))
    assert crop.dtype == np.float32 and crop.tolist() == [[1.0, 2.0], [5.0, 6.0]]
    pad = F.resample(np.full((2, 4), 9, np.uint8), F.framing(4, 2, 4, 4, "pad"), fill=1)
    assert pad.tolist() == [[1] * 4, [9] * 4, [9] * 4, [1] * 4]
    assert F.resample(np.full((2, 4), 9, np.uint8), F.framing(4, 2, 4, 4, "pad")).tolist()[0] == [0] * 4
    side = F.resample(np.full((4, 2, 3), 9, np.uint8), F.framing(2, 4, 4, 4, "pad"), fill=3)
    assert side[..., 0].tolist() == [[3, 9, 9, 3]] * 4 and side.shape == (4, 4, 3)
    near = F.resample(np.full((2, 4), 9, np.uint8), F.framing(4, 2, 4, 4, "pad"), nearest=True, fill=2)
    assert near.tolist() == [[2] * 4, [9] * 4, [9] * 4, [2] * 4]


def test_resample_refuses_an_image_of_another_size():
    with pytest.raises(ValueError, match=r"^image is 3x2, expected the reference size 4x2$"):
        F.resample(np.zeros((2, 3)), F.framing(4, 2, 4, 4, "pad"))


def test_float_images_stay_float():
    img = np.array([[0.0, 1.0]], np.float64)
    out = F.resample(img, F.framing(2, 1, 4, 1, "stretch"))
    assert out.dtype == np.float64 and np.allclose(out, [[0.0, 0.25, 0.75, 1.0]])
    assert math.isclose(F.resample(np.array([[0.2]], np.float32), F.framing(1, 1, 1, 1))[0, 0], 0.2, rel_tol=1e-6)
