"""Per-track timing: F-curve presets and holds sampled per output frame, the job's progress
array, the server's plan following it, and the overlay's ticks."""
from __future__ import annotations

import numpy as np
import pytest

from .conftest import ARROW_BALL, build_scene, connect, drive  # noqa: F401  (fixtures)

CLOSED_FORM = {"linear": lambda t: t, "ease-in": lambda t: t * t, "ease-out": lambda t: 1 - (1 - t) ** 2,
               "ease-in-out": lambda t: t * t * (3 - 2 * t)}


def _scene_with_tracks(build_scene, frames):
    bpy = __import__("bpy")
    scene = build_scene(frames=frames)
    assert bpy.ops.trackgo.auto_pair() == {"FINISHED"}
    return bpy, scene


@pytest.mark.parametrize("preset", sorted(CLOSED_FORM))
def test_presets_are_exactly_the_servers_easings(build_scene, preset):
    from blender_addon.blender import timing
    bpy, scene = _scene_with_tracks(build_scene, 9)
    assert timing.track_progress(scene, 0, 9) is None          # no curve: the easing applies (1.0 job)
    assert bpy.ops.trackgo.timing_preset(preset=preset) == {"FINISHED"}
    got = timing.track_progress(scene, 0, 9)
    want = [CLOSED_FORM[preset](i / 8) for i in range(9)]
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_start_end_window_and_holds(build_scene):
    from blender_addon.blender import timing
    bpy, scene = _scene_with_tracks(build_scene, 9)
    t = scene.trackgo.tracks[0].timing
    t.start_frame, t.end_frame = 3, 7
    bpy.ops.trackgo.timing_preset(preset="linear")
    np.testing.assert_allclose(timing.track_progress(scene, 0, 9), [0, 0, 0, .25, .5, .75, 1, 1, 1], atol=1e-6)
    # A hold: two keys with the same value, by hand.
    timing.clear(scene, 0)
    for frame, value in ((1, 0.0), (3, 0.5), (6, 0.5), (8, 1.0)):
        t.progress = value
        t.keyframe_insert("progress", frame=frame)
    for kp in timing.fcurve(scene, 0).keyframe_points:
        kp.interpolation = "LINEAR"
    np.testing.assert_allclose(timing.track_progress(scene, 0, 9), [0, .25, .5, .5, .5, .5, .75, 1, 1], atol=1e-6)
    # The job carries it for that track only, and the protocol accepts it.
    from blender_addon.blender.operators import build_now
    body = build_now(bpy.context).body
    assert body["tracks"][0]["progress"] == timing.track_progress(scene, 0, 9)
    assert "progress" not in body["tracks"][1]


def _arc_point(points, u):
    pts = np.asarray(points, float)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0], np.cumsum(seg)])
    s = u * cum[-1]
    return np.array([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])])


def test_the_servers_plan_moves_the_track_as_the_curve_says(build_scene, server):
    from blender_addon.blender import session
    from blender_addon.io import timing as io_timing
    bpy, scene = _scene_with_tracks(build_scene, 5)
    connect(bpy, server.address)
    t = scene.trackgo.tracks[0].timing
    t.start_frame, t.end_frame = 2, 4
    bpy.ops.trackgo.timing_preset(preset="linear")           # progress [0, 0, .5, 1, 1]
    assert bpy.ops.trackgo.preview_points() == {"FINISHED"}
    drive(lambda: scene.name in session.SESSION.plans, 30)
    plan = session.SESSION.plans[scene.name]
    pos = np.array(plan["tracks"][0]["positions"])
    moved = (pos - pos[:1]).mean(axis=1)
    tail = np.array(ARROW_BALL[0])
    want = [_arc_point(ARROW_BALL, u) - tail for u in (0, 0, .5, 1, 1)]
    np.testing.assert_allclose(moved, want, atol=0.01)
    # Box keeps its linear easing.
    box = np.array(plan["tracks"][1]["positions"])
    np.testing.assert_allclose((box - box[:1]).mean(axis=1)[:, 1], [0, 10, 20, 30, 40], atol=0.01)
    # The overlay: one tick per output frame, piled up where the track holds, and an arrowhead.
    ticks, head = io_timing.tick_geometry(plan, framing=session.SESSION.plan_framing.get(scene.name))[0]
    assert len(ticks) == 5 and ticks[0] == ticks[1] and ticks[3] == ticks[4] and len(head) == 2
    # ... on the arrow itself: frame 0 at its tail, the last frame at its head.
    from blender_addon.io import coords
    from .conftest import H, W
    ends = coords.pixels_to_normalized([ARROW_BALL[0], ARROW_BALL[-1]], W, H)
    np.testing.assert_allclose([ticks[0], ticks[-1]], ends, atol=0.01)


def test_a_1_0_server_is_told_it_would_ignore_the_curves(build_scene):
    from types import SimpleNamespace

    from blender_addon.blender import session
    from blender_addon.blender.operators import build_now
    bpy, scene = _scene_with_tracks(build_scene, 5)
    bpy.ops.trackgo.timing_preset(preset="ease-in")
    saved = session.SESSION.client
    session.SESSION.client = SimpleNamespace(welcome={"protocol": [1, 0]}, limits=None)
    try:
        with pytest.raises(ValueError, match="protocol 1.1; this one speaks 1.0"):
            build_now(bpy.context)
        session.SESSION.client.welcome = {"protocol": [1, 1]}
        assert "progress" in build_now(bpy.context).body["tracks"][0]
    finally:
        session.SESSION.client = saved
