"""The scene / tracker sources in the add-on: registered, listed, previewed, built into the job."""
from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_addon import demo_previs_scene as ds  # noqa: E402


def _blocked_scene(bpy):
    scene = bpy.context.scene
    ds.set_render_size(scene, 256, 192)
    scene.frame_start, scene.frame_end = 1, 9
    cube = ds.box("Proxy", size=(1.5, 1.5, 1.5))
    ds.linear_keys(cube, "location", {1: (-1.0, 0.0, 0.0), 9: (1.0, 0.0, 0.5)})
    ds.camera()
    return scene, cube


def test_scene_source_reference_preview_and_job(addon):
    from blender_addon.blender import session
    from blender_addon.blender.overlay import plan_geometry
    from shared_protocol import validate_job

    scene, cube = _blocked_scene(addon)
    st = scene.trackgo
    st.frames, st.width, st.height = 5, 256, 192
    addon.context.view_layer.objects.active = cube
    assert addon.ops.trackgo.scene_source_add(kind="OBJECT") == {"FINISHED"}
    src = scene.trackgo.tracks[0]
    assert src.source == "OBJECT" and src.object == cube and src.name == "Proxy"
    scene.trackgo_scene.reference_from = "WORKBENCH"
    assert addon.ops.trackgo.scene_reference() == {"FINISHED"}
    assert tuple(st.reference.size) == (256, 192)
    assert addon.ops.trackgo.scene_preview() == {"FINISHED"}
    plan = session.SESSION.plans[scene.name]
    (entry,) = plan["tracks"]
    assert np.asarray(entry["positions"]).shape[:1] == (5,) and plan["width"] == 256
    (drawn,) = plan_geometry(plan)
    dots = drawn.points + drawn.hidden_points
    assert len(dots) == len(entry["points"]) and len(drawn.segments + drawn.hidden_segments) == 4 * len(dots)
    from blender_addon.blender import capture, inputs
    from blender_addon.io import prepare
    source = inputs.snapshot(addon.context, st)          # what Generate hands to its worker
    source.pixels = capture.image_pixels(st.reference)[0]
    job = prepare.prepare(source)
    body, payloads, names, meta = job.body, job.payloads, job.track_names, job.meta
    job = validate_job(body, payloads)
    assert names == ["Proxy"] and meta[0]["source"] == "points"
    track = job.tracks[0]
    assert track.arrow is None and track.points.count == len(entry["points"]) and track.points.frames == 5


def test_a_source_without_object_is_reported_by_name(addon):
    scene, _ = _blocked_scene(addon)
    nothing = scene.trackgo.tracks.add()
    nothing.name, nothing.source = "Nothing", "OBJECT"
    scene.trackgo.reference = bpy.data.images.new("Ref", 256, 192)
    with pytest.raises(RuntimeError, match="Nothing"):
        addon.ops.trackgo.scene_preview()
    assert "Nothing" in scene.trackgo.error
