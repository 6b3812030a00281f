"""Extend this take: the next part starts from the last frame, tracks continue along the rest of
their arrows with the curve carried over, and the frames join one strip with no repeated frame."""
from __future__ import annotations

import os

import numpy as np

from .conftest import ARROW_BALL, ARROW_BOX, build_scene, connect, drive  # noqa: F401  (fixtures)
from .test_takes import _frames, _idle


def _pixels(bpy, path):
    img = bpy.data.images.load(path, check_existing=False)
    px = np.array(img.pixels[:], dtype=np.float32).reshape(img.size[1], img.size[0], 4)
    bpy.data.images.remove(img)
    return (px[::-1, :, :3] * 255).round()


def test_extend_continues_the_arrows_and_joins_one_strip(build_scene, server):
    from blender_addon.blender import compat, takes
    from blender_addon.io import extend as io_extend

    bpy = __import__("bpy")
    scene = build_scene(frames=5)
    connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    t = scene.trackgo.tracks[0].timing            # Ball: one curve over a 9-frame shot
    t.start_frame, t.end_frame = 1, 9
    assert bpy.ops.trackgo.timing_preset(preset="linear") == {"FINISHED"}
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: _idle(bpy), 90)
    first = scene.trackgo_takes[0]
    rec1 = takes.record_of(first)
    np.testing.assert_allclose(rec1.body["tracks"][0]["progress"], [0, .125, .25, .375, .5], atol=1e-6)
    part1 = _frames(bpy, scene, first)

    assert bpy.ops.trackgo.take_extend() == {"FINISHED"}
    drive(lambda: _idle(bpy), 90)
    ext = scene.trackgo_takes[1]
    assert ext.state == "done", (ext.state, scene.trackgo.error)
    rec2 = takes.record_of(ext)
    ball, box = rec2.body["tracks"]
    # The rest of the Ball's arrow from where it stopped (half way), re-timed to that rest.
    np.testing.assert_allclose(ball["arrow"]["points"][0], io_extend.arc_point(ARROW_BALL, 0.5), atol=1e-3)
    np.testing.assert_allclose(ball["arrow"]["points"][-1], ARROW_BALL[-1], atol=1e-3)
    np.testing.assert_allclose(ball["progress"], [0, .25, .5, .75, 1], atol=1e-6)
    # Box had no curve: its arrow was used up in part 1, so it holds at its head.
    assert box["progress"] == [0.0] * 5
    np.testing.assert_allclose(box["arrow"]["points"][0], ARROW_BOX[-1], atol=1e-3)
    # The part's reference is the first part's last frame.
    strip = takes.strip_of(scene, first)
    folder = bpy.path.abspath(strip.directory)
    last1 = _pixels(bpy, os.path.join(folder, "0005.png"))
    ref2 = np.frombuffer(rec2.payloads[0], np.uint8).reshape(last1.shape)
    np.testing.assert_array_equal(ref2, last1)
    # One strip of 5 + 4 frames, numbered on, no other strip, no part folder left.
    assert [s.name for s in compat.strips(scene.sequence_editor)] == [strip.name]
    assert [e.filename for e in strip.elements] == [f"{i:04d}.png" for i in range(1, 10)]
    assert compat.strip_duration(strip) == 9
    assert sorted(os.listdir(folder)) == [f"{i:04d}.png" for i in range(1, 10)]
    assert _frames(bpy, scene, first)[:5] == part1
    assert takes.strip_of(scene, ext) == strip
    # The seam: frame 5 → 6 against the frame-to-frame differences inside the parts.
    frames = [_pixels(bpy, os.path.join(folder, f"{i:04d}.png")) for i in range(1, 10)]
    diffs = [float(np.abs(b - a).mean()) for a, b in zip(frames, frames[1:])]
    seam, inside = diffs[4], float(np.median(diffs[:4] + diffs[5:]))
    print(f"\nseam_mad={seam:.3f} median_inside_mad={inside:.3f} ratio={seam / max(inside, 1e-9):.2f}")
    # Choosing the extension shows the joined strip.
    scene.trackgo_take_index = 1
    assert not strip.mute
