"""Turning copied Blender data into a job off the main thread (``blender_addon.io.prepare``),
without Blender: colour encoding, fitting into the output frame, masks of every kind, size checks."""
from __future__ import annotations

import numpy as np
import pytest

import shared_protocol as sp
from blender_addon.io import framing as F
from blender_addon.io import prepare as P
from blender_addon.io import raster
from blender_addon.io.job import JobInputError, TrackInput


def blender_pixels(rgb_top_first: np.ndarray) -> np.ndarray:
    """(H, W, 3) 0–1 floats, top row first → Blender's flat RGBA, bottom row first."""
    h, w, _ = rgb_top_first.shape
    rgba = np.concatenate([rgb_top_first, np.ones((h, w, 1))], axis=-1)[::-1]
    return rgba.astype(np.float32).ravel()


def square_layer(x0, y0, x1, y1):
    return raster.Layer((raster.Spline(tuple(raster.SplinePoint((x, y), (x, y), (x, y))
                                             for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])),))


def test_pixel_buffer_is_zeroed_rgba_float32():
    buf = P.pixel_buffer(3, 2)
    assert buf.shape == (24,) and buf.dtype == np.float32 and not buf.any()


def test_reference_colours_are_flipped_and_encoded():
    px = np.array([0.0, 0.5, 1.0, 1.0, 0.001, 0.2, 2.0, 1.0,      # bottom row
                   0.25, 0.0, 0.0, 1.0, -1.0, 0.75, 0.003, 1.0], np.float32)   # top row
    srgb = P.reference_srgb8(px, 2, 2, is_float=True)
    assert srgb.dtype == np.uint8 and srgb.shape == (2, 2, 3)

    def enc(v):
        return 12.92 * v if v <= 0.0031308 else 1.055 * max(v, 0) ** (1 / 2.4) - 0.055
    expected_bottom = [[round(min(255, max(0, enc(v) * 255))) for v in rgb] for rgb in ([0.0, 0.5, 1.0], [0.001, 0.2, 2.0])]
    assert srgb[1].tolist() == expected_bottom == [[0, 188, 255], [3, 124, 255]]
    assert srgb[0, 1].tolist() == [0, round(enc(0.75) * 255), round(0.003 * 12.92 * 255)]
    assert srgb[0, 0].tolist() == [round(enc(0.25) * 255), 0, 0] == [137, 0, 0]
    byte = P.reference_srgb8(px, 2, 2, is_float=False)      # 8-bit images: already sRGB
    assert byte[1].tolist() == [[0, 128, 255], [0, 51, 255]] and byte[0, 0].tolist() == [64, 0, 0]


def test_a_painted_mask_covers_by_brightness_times_alpha_top_row_first():
    pm = P.PaintedMask(np.array([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 1, 1, 0, 1, 1], np.float32), 2, 2)
    assert np.allclose(pm.coverage(), [[0.0, 2 / 3], [1.0, 0.25]])


def test_the_size_check_says_what_to_change():
    body = {"params": {"width": 512, "height": 256}}
    payloads = [b"x" * (P.MB - P.HEADER_ALLOWANCE), b"y" * P.MB]
    assert P.encoded_size(body, payloads) == 2 * P.MB and P.HEADER_ALLOWANCE == 64 * 1024
    P.check_size(body, payloads, sp.Limits(max_message_bytes=2 * P.MB))        # exactly at the cap
    P.check_size(body, payloads, None)                                         # no limits known
    with pytest.raises(JobInputError, match=r"^job: 2\.0 MB to send, the server takes at most 1\.5 MB "
                                            r"\(welcome\.limits\.max_message_bytes\): lower the output size "
                                            r"\(512x256\) or use fewer tracks \(1\)$"):
        P.check_size(body, payloads, sp.Limits(max_message_bytes=3 * P.MB // 2))


def source(tracks, size=(128, 64), fit="crop", width=128, height=64, params=None, pixels=True, **kw):
    rgb = np.zeros((height, width, 3))
    rgb[:, : width // 2, 0] = 1.0                 # left half red, right half black
    return P.JobSource(blender_pixels(rgb) if pixels else None, width, height, False, tracks,
                       dict(params or {"frames": 8}), fit=fit, size=size, **kw)


def test_prepare_builds_the_job_at_the_output_size():
    tracks = [P.TrackSource("Box", square_layer(8, 8, 24, 24), np.array([[16.0, 16.0], [40.0, 16.0]]), "ease-in",
                            rotate=True, edge_softness=1.5)]
    job = P.prepare(source(tracks, meta=[{"k": 1}]))
    assert job.track_names == ["Box"] and job.meta == [{"k": 1}]
    assert job.framing == F.framing(128, 64, 128, 64, "crop")
    body, payloads = job.body, job.payloads
    assert body["params"]["width"] == 128 and body["params"]["height"] == 64 and body["params"]["frames"] == 8
    ref = np.frombuffer(payloads[0], np.uint8).reshape(64, 128, 3)
    assert (ref[:, :64, 0] == 255).all() and (ref[:, 64:] == 0).all()
    (t,) = body["tracks"]
    assert t["name"] == "Box" and t["easing"] == "ease-in" and t["rotate"] is True and t["edge_softness"] == 1.5
    assert t["arrow"]["points"] == [[16.0, 16.0], [40.0, 16.0]]
    mask = np.frombuffer(payloads[t["mask"]["payload"]], np.uint8).reshape(64, 128)
    assert np.argwhere(mask).min(axis=0).tolist() == [8, 8] and np.argwhere(mask).max(axis=0).tolist() == [23, 23]


def test_prepare_crops_the_reference_masks_and_arrows_alike():
    # a 256x64 reference cropped to 128x64: the middle half, shifted left by 64 px
    tracks = [P.TrackSource("Box", square_layer(100, 8, 120, 24), np.array([[110.0, 16.0], [150.0, 16.0]]))]
    job = P.prepare(source(tracks, size=(128, 64), width=256, height=64))
    assert (job.framing.sx, job.framing.tx) == (1.0, -64.0)
    ref = np.frombuffer(job.payloads[0], np.uint8).reshape(64, 128, 3)
    assert (ref[:, :64, 0] == 255).all() and (ref[:, 64:, 0] == 0).all()
    (t,) = job.body["tracks"]
    assert t["arrow"]["points"] == [[46.0, 16.0], [86.0, 16.0]]
    mask = np.frombuffer(job.payloads[1], np.uint8).reshape(64, 128)
    assert np.argwhere(mask).min(axis=0).tolist() == [8, 36] and np.argwhere(mask).max(axis=0).tolist() == [23, 55]


def test_feathers_scale_with_the_frame():
    layer = raster.Layer((raster.Spline(tuple(raster.SplinePoint((x, y), (x, y), (x, y), 8.0)
                                              for x, y in [(96, 32), (160, 32), (160, 96), (96, 96)])),),
                         falloff="LINEAR")
    tracks = [P.TrackSource("Soft", layer, np.array([[128.0, 64.0], [200.0, 64.0]]))]
    job = P.prepare(source(tracks, size=(128, 64), width=256, height=128))      # half size: feather 4 px
    mask = np.frombuffer(job.payloads[1], np.uint8).reshape(64, 128)
    # the right edge is at x = 80 in the output; 4 px of linear feather there: 0.875, 0.625 are at
    # least half inside (kept), 0.375 is not (an unscaled 8 px feather would keep 4 columns)
    assert mask[32, 78:85].tolist() == [255, 255, 255, 255, 0, 0, 0]


def test_a_painted_mask_of_any_size_stands_for_the_whole_reference():
    cov = np.zeros((32, 64, 4), np.float32)              # half the reference's size, top row first
    cov[4:12, 4:12] = 1.0
    pm = P.PaintedMask(cov[::-1].ravel(), 64, 32)
    tracks = [P.TrackSource("Paint", pm, np.array([[16.0, 16.0], [60.0, 16.0]]))]
    job = P.prepare(source(tracks))
    mask = np.frombuffer(job.payloads[1], np.uint8).reshape(64, 128)
    assert np.argwhere(mask).min(axis=0).tolist() == [8, 8] and np.argwhere(mask).max(axis=0).tolist() == [23, 23]
    assert set(np.unique(mask)) == {0, 255}
    # cropped: the painted image follows the reference's crop
    cov_w = np.zeros((64, 256, 4), np.float32)
    cov_w[8:24, 100:120] = 1.0
    pm_wide = P.PaintedMask(cov_w[::-1].ravel(), 256, 64)
    job = P.prepare(source([P.TrackSource("P", pm_wide, np.array([[110.0, 16.0], [150.0, 16.0]]))],
                           size=(128, 64), width=256, height=64))
    mask = np.frombuffer(job.payloads[1], np.uint8).reshape(64, 128)
    assert np.argwhere(mask).min(axis=0).tolist() == [8, 36] and np.argwhere(mask).max(axis=0).tolist() == [23, 55]
    pad = P.prepare(source([P.TrackSource("P", pm_wide, np.array([[110.0, 16.0], [150.0, 16.0]]))],
                           size=(128, 64), width=256, height=64, fit="pad"))
    assert pad.framing.mode == "pad"
    mask = np.frombuffer(pad.payloads[1], np.uint8).reshape(64, 128)
    assert np.argwhere(mask).min(axis=0).tolist() == [20, 50] and np.argwhere(mask).max(axis=0).tolist() == [27, 59]


def test_point_tracks_are_resampled_into_the_output_frame():
    pts = np.zeros((1, 8, 2))
    pts[0, :, 0] = np.arange(8) * 10 + 100
    pts[0, :, 1] = 16
    mask = np.zeros((64, 256), np.uint8)
    mask[8:24, 100:120] = 255
    vis = np.ones((1, 8), bool)
    vis[0, 2] = False
    tr = TrackInput("Obj", mask, None, points=pts, visible=vis)
    job = P.prepare(source([tr], size=(128, 64), width=256, height=64))
    (t,) = job.body["tracks"]
    got = np.frombuffer(job.payloads[t["points"]["payload"]], "<f4").reshape(1, 8, 2)
    assert np.allclose(got[0, :, 0], np.arange(8) * 10 + 36) and np.allclose(got[0, :, 1], 16)
    assert t["points"]["visible"] == vis.astype(np.uint8).tobytes()
    m = np.frombuffer(job.payloads[t["mask"]["payload"]], np.uint8).reshape(64, 128)
    assert np.argwhere(m).min(axis=0).tolist() == [8, 36] and np.argwhere(m).max(axis=0).tolist() == [23, 55]
    assert job.track_names == ["Obj"]


def test_point_track_masks_are_resampled_nearest_not_smeared():
    # a 2 px band starting on an odd column, halved: nearest keeps one column (source 101),
    # an area or bilinear filter would leave two half-covered ones
    mask = np.zeros((128, 256), np.uint8)
    mask[:, 101:103] = 255
    tr = TrackInput("Obj", mask, None, points=np.zeros((1, 8, 2)))
    job = P.prepare(source([tr], size=(128, 64), width=256, height=128))
    m = np.frombuffer(job.payloads[1], np.uint8).reshape(64, 128)
    assert np.flatnonzero(m.any(axis=0)).tolist() == [50]


def test_painted_masks_are_resampled_nearest_too():
    cov = np.zeros((128, 256, 4), np.float32)
    cov[:, 101:103] = 1.0
    pm = P.PaintedMask(cov[::-1].ravel(), 256, 128)
    job = P.prepare(source([P.TrackSource("P", pm, np.array([[100.0, 16.0], [150.0, 16.0]]))],
                           size=(128, 64), width=256, height=128))
    m = np.frombuffer(job.payloads[1], np.uint8).reshape(64, 128)
    assert np.flatnonzero(m.any(axis=0)).tolist() == [50]


def test_float_references_are_encoded_and_every_track_after_a_point_track_is_kept():
    tracks = [TrackInput("Obj", np.full((64, 128), 255, np.uint8), None, points=np.zeros((1, 8, 2))),
              P.TrackSource("Box", square_layer(8, 8, 24, 24), np.array([[16.0, 16.0], [40.0, 16.0]]))]
    rgb = np.full((64, 128, 3), 0.5)
    src = P.JobSource(blender_pixels(rgb), 128, 64, True, tracks, {"frames": 8}, size=(128, 64))
    job = P.prepare(src)
    assert job.track_names == ["Obj", "Box"] and len(job.body["tracks"]) == 2
    assert set(np.frombuffer(job.payloads[0], np.uint8).tolist()) == {188}     # 0.5 linear → sRGB 188


def test_precheck_sizes_the_job_like_the_real_one_and_uses_the_limits():
    ok = [P.TrackSource("Box", square_layer(8, 8, 24, 24), np.array([[16.0, 16.0], [40.0, 16.0]]))]
    exact = 128 * 64 * 3 + 128 * 64 + P.HEADER_ALLOWANCE          # reference RGB, one mask, header
    P.precheck(source(ok, pixels=False), sp.Limits(max_message_bytes=exact))
    with pytest.raises(JobInputError, match=r"^job: "):
        P.precheck(source(ok, pixels=False), sp.Limits(max_message_bytes=exact - 1))
    small = sp.Limits(max_width=256, max_height=128, max_pixels=256 * 128)
    assert P.precheck(source(ok, size=None, pixels=False), small) == F.framing(128, 64, 256, 128, "crop")
    # the chosen size is what the limits judge (not the protocol's default size)
    tight = sp.Limits(max_width=128, max_height=64, max_pixels=128 * 64)
    assert P.precheck(source(ok, pixels=False), tight).out_w == 128


def test_precheck_leaves_empty_masks_to_the_worker_but_checks_edge_softness():
    pts = np.zeros((1, 8, 2))
    tr = TrackInput("Obj", np.zeros((64, 128), np.uint8), None, points=pts)   # empty: not known yet
    assert P.precheck(source([tr], pixels=False)).out_w == 128
    soft = [P.TrackSource("Box", square_layer(8, 8, 24, 24), np.array([[16.0, 16.0], [40.0, 16.0]]),
                          edge_softness=-1.0)]
    with pytest.raises(JobInputError, match=r"edge_softness"):
        P.precheck(source(soft, pixels=False))


def test_without_a_chosen_size_the_output_follows_the_references_aspect():
    tracks = [P.TrackSource("Box", square_layer(8, 8, 24, 24), np.array([[16.0, 16.0], [40.0, 16.0]]))]
    job = P.prepare(source(tracks, size=None, params={"frames": 8}))
    assert (job.framing.out_w, job.framing.out_h) == F.output_size(128, 64) == (1152, 576)
    small = sp.Limits(max_width=256, max_height=256, max_pixels=256 * 128)
    job = P.prepare(source(tracks, size=None), small)
    assert (job.framing.out_w, job.framing.out_h) == (256, 128)
    assert job.body["params"]["width"] == 256


def test_prepare_refuses_empty_masks_and_oversized_jobs():
    tracks = [P.TrackSource("Ghost", square_layer(300, 300, 310, 310), np.array([[16.0, 16.0], [40.0, 16.0]]))]
    with pytest.raises(JobInputError, match=r"^track 'Ghost': mask is empty"):
        P.prepare(source(tracks))
    ok = [P.TrackSource("Box", square_layer(8, 8, 24, 24), np.array([[16.0, 16.0], [40.0, 16.0]]))]
    with pytest.raises(JobInputError, match=r"^job: .* MB to send"):
        P.prepare(source(ok), sp.Limits(max_message_bytes=P.HEADER_ALLOWANCE + 100))
    with pytest.raises(JobInputError, match=r"params\.frames"):
        P.prepare(source(ok), sp.Limits(max_frames=4))


def test_precheck_refuses_bad_input_without_pixels():
    ok = [P.TrackSource("Box", square_layer(8, 8, 24, 24), np.array([[16.0, 16.0], [40.0, 16.0]]), rotate=True,
                        edge_softness=2.0)]
    frame = P.precheck(source(ok, size=(128, 64), width=256, height=64, pixels=False))
    assert frame == F.framing(256, 64, 128, 64, "crop")
    bad_arrow = [P.TrackSource("Box", square_layer(8, 8, 24, 24), np.array([[16.0, 16.0]]))]
    with pytest.raises(JobInputError, match=r"^track 'Box': arrow needs at least 2 points"):
        P.precheck(source(bad_arrow, pixels=False))
    with pytest.raises(JobInputError, match=r"params\.frames"):
        P.precheck(source(ok, pixels=False, params={"frames": 9}), sp.Limits(max_frames=8))
    with pytest.raises(JobInputError, match=r"^job: .* MB to send"):
        P.precheck(source(ok, pixels=False), sp.Limits(max_message_bytes=P.HEADER_ALLOWANCE + 100))
    with pytest.raises(JobInputError, match=r"easing"):
        P.precheck(source([P.TrackSource("Box", None, np.array([[1.0, 1.0], [5.0, 5.0]]), "wobbly")], pixels=False))
    # point tracks are checked too, their points through the framing
    pts = np.zeros((1, 8, 2))
    tr = TrackInput("Obj", np.ones((64, 256), np.uint8), None, points=pts)
    assert P.precheck(source([tr], size=(128, 64), width=256, height=64, pixels=False)).tx == -64.0
    with pytest.raises(JobInputError, match=r"points"):
        P.precheck(source([TrackInput("Obj", np.ones((64, 256), np.uint8), None, points=np.zeros((1, 7, 2)))],
                          size=(128, 64), width=256, height=64, pixels=False))
