"""First hour, items 1 and 3: big references reach the server at the job's size, the output
follows the reference's shape without stretching, and the limits come from the server."""
from __future__ import annotations

import os

import numpy as np
import pytest

from .conftest import build_scene, connect, drive, start_server  # noqa: F401  (fixtures)
from .first_hour import png_size, scene_with_tracks, sent_messages


def _done(st):
    return not st.busy and st.progress_text.startswith(("Done", "Failed", "Cancelled", "Rejected"))


def _only_strip(bpy):
    from blender_addon.blender import compat
    strips = list(compat.strips(bpy.context.scene.sequence_editor))
    assert len(strips) == 1, [s.name for s in strips]
    return strips[0]


def test_a_uhd_plate_with_six_tracks_is_sent_at_the_output_size_and_generates(addon, server, monkeypatch):
    """3840x2160 with 6 tracks was 75 MB on the wire: over the server's 64 MiB cap, dropped, and
    the job sat at "Submitted" forever."""
    bpy = addon
    sent = sent_messages(monkeypatch)
    scene, _ = scene_with_tracks(bpy, 3840, 2160, 6)
    st = connect(bpy, server.address)
    assert bpy.ops.trackgo.auto_pair() == {"FINISHED"}
    assert all(t.arrow for t in st.tracks) and len(st.tracks) == 6
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: _done(st), 120)
    assert st.progress_text.startswith("Done"), (st.progress_text, st.error)
    kind, body, sizes = sent[-1]
    assert kind == "submit"
    # The reference and the masks travel at the output size (16:9 at the model's frame area).
    assert (body["params"]["width"], body["params"]["height"]) == (1024, 576)
    assert (body["reference"]["width"], body["reference"]["height"]) == (1024, 576)
    assert sizes == [1024 * 576 * 3] + [1024 * 576] * 6
    strip = _only_strip(bpy)
    folder = bpy.path.abspath(strip.directory)
    assert png_size(os.path.join(folder, sorted(os.listdir(folder))[0])) == (1024, 576)


def test_a_job_over_the_servers_message_cap_is_refused_before_sending(addon, monkeypatch):
    bpy = addon
    srv = start_server("preview", env_extra={"TRACKGO_MAX_MESSAGE_BYTES": "300000"})
    try:
        sent = sent_messages(monkeypatch)
        scene_with_tracks(bpy, 512, 512, 2)
        st = connect(bpy, srv.address)
        assert st.connected, st.error
        bpy.ops.trackgo.auto_pair()
        st.width, st.height = 1024, 512   # typing a size chooses it
        assert st.size_mode == "CUSTOM"
        with pytest.raises(RuntimeError) as info:
            bpy.ops.trackgo.generate()
        text = str(info.value)
        assert "the server takes at most 0.3 MB" in text and "max_message_bytes" in text
        assert "lower the output size (1024x512)" in st.error
        assert not sent and not st.busy
    finally:
        srv.stop()


def test_output_size_follows_the_reference_aspect_without_stretching(addon, server, monkeypatch):
    """A 451x300 photo became 1024x576 (stretched 18 % wider)."""
    bpy = addon
    from blender_addon.blender import capture

    sent = sent_messages(monkeypatch)
    scene, _ = scene_with_tracks(bpy, 451, 300, 1)
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    assert st.size_mode == "AUTO" and st.fit == "CROP"
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    scene.render.resolution_x, scene.render.resolution_y = 1920, 1080  # a 16:9 edit
    drive(lambda: _done(st), 60)
    assert st.progress_text.startswith("Done"), (st.progress_text, st.error)
    w, h = sent[-1][1]["params"]["width"], sent[-1][1]["params"]["height"]
    assert (w, h) == (960, 640) and w % 64 == 0 and h % 64 == 0
    assert abs(w / h - 451 / 300) < 0.01
    # Frame 1 is the reference itself (preview backend): the same picture, only scaled.
    strip = _only_strip(bpy)
    frame1 = bpy.data.images.load(os.path.join(bpy.path.abspath(strip.directory), strip.elements[0].filename))
    got = capture.reference_rgb(frame1)
    want = capture.reference_rgb(st.reference)
    ys = (np.arange(h) + 0.5) * 300 / h
    xs = (np.arange(w) + 0.5) * 451 / w
    scaled = want[ys.astype(int)][:, xs.astype(int)]
    assert got.shape == (h, w, 3) and np.abs(got.astype(int) - scaled).mean() < 6
    # The strip lines up with the plate fitted to the render: same scale on both axes.
    plate = min(1920 / 451, 1080 / 300)
    assert strip.transform.scale_x == pytest.approx(plate / max(w / 451, h / 300), rel=1e-3)  # crop
    assert strip.transform.scale_y == pytest.approx(strip.transform.scale_x, rel=1e-3)


def test_frames_maximum_follows_the_server(addon):
    bpy = addon
    srv = start_server("preview", env_extra={"TRACKGO_MAX_FRAMES": "16"})
    try:
        scene_with_tracks(bpy, 128, 128, 1)
        st = connect(bpy, srv.address)
        assert st.connected, st.error
        prop = type(st).bl_rna.properties["frames"]
        assert prop.hard_max == 16
        st.frames = 40
        assert st.frames == 16
    finally:
        srv.stop()


def test_fit_modes_crop_pad_stretch():
    from blender_addon.io import framing

    assert framing.output_size(4096, 4096) == (768, 768)
    assert framing.output_size(3840, 2160) == (1024, 576)
    assert framing.output_size(451, 300) == (960, 640)
    small = type("L", (), {"max_width": 512, "max_height": 512, "max_pixels": 512 * 256})()
    w, h = framing.output_size(3840, 2160, small)
    assert w <= 512 and w * h <= 512 * 256 and w % 64 == 0 and h % 64 == 0
    img = np.full((100, 200, 3), 200, np.uint8)
    crop = framing.framing(200, 100, 128, 128, "crop")
    assert crop.sx == crop.sy == pytest.approx(1.28)
    assert (framing.resample(img, crop) == 200).all()          # filled, no bars
    pad = framing.framing(200, 100, 128, 128, "pad")
    out = framing.resample(img, pad)
    assert pad.sx == pad.sy == pytest.approx(0.64)
    assert (out[:30] == 0).all() and (out[-30:] == 0).all() and (out[40:88] == 200).all()
    st = framing.framing(200, 100, 128, 128, "stretch")
    assert (st.sx, st.sy) == (0.64, 1.28) and (framing.resample(img, st) == 200).all()
    # Points go both ways through the same map.
    p = np.array([[10.0, 20.0], [190.0, 80.0]])
    for fr in (crop, pad, st):
        assert np.allclose(fr.to_reference(fr.to_output(p)), p)
    with pytest.raises(ValueError, match="fit: expected one of crop, pad, stretch"):
        framing.framing(200, 100, 128, 128, "zoom")
