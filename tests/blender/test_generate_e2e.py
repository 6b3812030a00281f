"""The whole workflow against the real server subprocess: operators, timer, files, strip."""
from __future__ import annotations

import json

import numpy as np

from .conftest import H, W, build_scene, connect, drive  # noqa: F401  (fixtures)


def _job_done(bpy):
    st = bpy.context.scene.trackgo
    return not st.busy and st.progress_text.startswith(("Done", "Failed", "Cancelled", "Rejected"))


def _only_strip(bpy):
    from blender_addon.blender import compat
    strips = list(compat.strips(bpy.context.scene.sequence_editor))
    assert len(strips) == 1, [s.name for s in strips]
    return strips[0]


def test_generate_streams_frames_into_a_growing_strip(build_scene, server):
    from blender_addon.blender import session, strips
    from shared_protocol.images import read_png_info

    bpy = __import__("bpy")
    scene = build_scene(frames=6)
    st = connect(bpy, server.address)
    assert st.connected, st.error
    assert bpy.ops.trackgo.auto_pair() == {"FINISHED"}
    assert [(t.mask_layer, st.arrows[t.arrow].label[-1]) for t in st.tracks] == [("Ball", "1"), ("Box", "2")]

    session.SESSION.stats = session.TickStats()
    lengths = []
    assert bpy.ops.trackgo.generate() == {"FINISHED"}

    def progressed():
        se = scene.sequence_editor
        if se is not None and len(list(__import__("blender_addon.blender.compat", fromlist=["x"]).strips(se))):
            lengths.append(__import__("blender_addon.blender.compat", fromlist=["x"]).strip_duration(_only_strip(bpy)))
        return _job_done(bpy)

    drive(progressed, 60)
    assert st.progress_text.startswith("Done"), (st.progress_text, st.error)

    strip = _only_strip(bpy)
    # Position: the reference frame's place (the playhead at generate time), a free channel.
    from blender_addon.blender import compat
    assert compat.strip_content_start(strip) == 10 and strip.channel == 1
    assert compat.strip_duration(strip) == 6 and len(strip.elements) == 6
    assert [e.filename for e in strip.elements] == [f"{i:04d}.png" for i in range(1, 7)]
    # It grew while frames arrived (first seen with fewer than all frames).
    assert lengths and min(lengths) < 6 and lengths == sorted(lengths)
    folder = bpy.path.abspath(strip.directory)
    assert "/trackgo/Scene/" in folder.replace("\\", "/")
    import os
    files = sorted(f for f in os.listdir(folder))
    assert files == [f"{i:04d}.png" for i in range(1, 7)]  # no temporary leftovers
    for name in files:
        info = read_png_info(open(os.path.join(folder, name), "rb").read())  # every chunk + CRC
        assert (info.width, info.height) == (W, H)
    # Parameters and seed kept on the strip.
    params = strips.stored_params(strip)
    assert params["frames"] == 6 and params["width"] == W and params["seed"] == 1234
    assert strip[strips.PROP_STATE] == "done"
    assert [t["name"] for t in json.loads(strip[strips.PROP_TRACKS])] == ["Ball", "Box"]
    # Frame 1 is the reference itself (the preview backend starts from it).
    first = bpy.data.images.load(os.path.join(folder, "0001.png"))
    assert tuple(first.size) == (W, H)

    # How long the timer calls took is printed for the record, not asserted: a time limit fails
    # on a loaded machine (7.2 ms once against 5 ms). benchmarks/blender_timer.py measures the
    # 5 ms target (docs/benchmarks.md); here it is enough that the timer did the streaming.
    stats = session.SESSION.stats
    worst, median = stats.worst_streaming_s, float(np.median(stats.streaming_s))
    cpu_worst = max(stats.streaming_cpu_s)
    by_event = {k: round(v * 1000, 2) for k, v in stats.worst_by_event.items()}
    print(f"\ntimer_worst_ms_while_streaming={worst * 1000:.2f} timer_median_ms_while_streaming="
          f"{median * 1000:.2f} timer_cpu_worst_ms={cpu_worst * 1000:.2f} calls={stats.calls} "
          f"worst_ms_by_event={by_event}")
    assert stats.calls > 0 and stats.streaming_s

    # Regenerate from the strip with a new seed: a second strip, same position, another channel.
    se = scene.sequence_editor
    se.active_strip = strip
    assert bpy.ops.trackgo.regenerate(new_seed=True) == {"FINISHED"}
    drive(lambda: _job_done(bpy), 60)
    from blender_addon.blender import compat
    new = [s for s in compat.strips(se) if s != strip]
    assert len(new) == 1 and compat.strip_content_start(new[0]) == 10 and new[0].channel == 2
    new_params = strips.stored_params(new[0])
    assert new_params["seed"] is not None and new_params["seed"] != 1234
    assert new_params["frames"] == 6


def test_preview_points_come_from_the_server(build_scene, server):
    from blender_addon.blender import overlay, session

    bpy = __import__("bpy")
    scene = build_scene(frames=5)
    connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    assert bpy.ops.trackgo.preview_points() == {"FINISHED"}
    drive(lambda: scene.name in session.SESSION.plans, 30)
    plan = session.SESSION.plans[scene.name]
    assert plan["frames"] == 5 and (plan["width"], plan["height"]) == (W, H)
    geo = overlay.plan_geometry(plan)
    assert len(geo) == 2
    # Ball points start inside the circle and end displaced by the arrow (+56 px in x).
    pts = np.array(plan["tracks"][0]["positions"])
    assert pts.shape[0] == 5
    d = pts[0] - np.array([64.0, 64.0])
    assert (np.hypot(d[:, 0], d[:, 1]) <= 24.0 + 1.5 + 0.5).all()  # radius + half the 3 px feather
    assert np.allclose(pts[-1] - pts[0], [56.0, 0.0], atol=1.0)
    overlay.disable()


def test_unsaved_file_warns_and_streams_into_the_temp_folder(build_scene, server):
    import os
    import tempfile

    bpy = __import__("bpy")
    bpy.ops.wm.read_factory_settings(use_empty=True)  # a file never saved
    assert bpy.data.filepath == ""
    build_scene(frames=3)
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    assert "not saved" in st.error and "temporary folder" in st.error  # said at once
    drive(lambda: _job_done(bpy), 60)
    assert st.progress_text.startswith("Done"), (st.progress_text, st.error)
    strip = _only_strip(bpy)
    folder = os.path.realpath(bpy.path.abspath(strip.directory))
    assert folder.startswith(os.path.realpath(os.path.join(tempfile.gettempdir(), "trackgo")) + os.sep)
    assert sorted(os.listdir(folder)) == ["0001.png", "0002.png", "0003.png"]
    assert [e.filename for e in strip.elements] == sorted(os.listdir(folder))
