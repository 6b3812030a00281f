"""One track list for every source: painted mask + arrow, scene object(s), tracker markers (issue 14).

The job is built from that list in its order; Auto-Pair keeps the scene tracks; the panel says
each track's source and offers to add any kind; files saved with the old separate scene list
open with those tracks moved into the one list; adding a track is one undo step.
"""
from __future__ import annotations

import pytest

from .conftest import build_scene  # noqa: F401  (fixture)
from .test_panels import Recorder, _draw_all

bpy = pytest.importorskip("bpy")


def _proxy(scene):
    """A cube animated in front of a camera of its own (the scene camera, which the arrows may be
    drawn through, stays), picked as the scene tracks' camera."""
    from blender_addon import demo_previs_scene as ds
    ds.set_render_size(scene, 256, 128)
    scene.frame_start, scene.frame_end = 1, 9
    cube = ds.box("Proxy", size=(1.5, 1.5, 1.5))
    ds.linear_keys(cube, "location", {1: (-1.0, 0.0, 0.0), 9: (1.0, 0.0, 0.5)})
    arrows_camera = scene.camera
    scene.trackgo_scene.camera = ds.camera("Proxy Camera")
    scene.camera = arrows_camera
    return cube


def _job(context):
    from blender_addon.blender import capture, inputs
    from blender_addon.io import prepare
    from shared_protocol import validate_job
    st = context.scene.trackgo
    source = inputs.snapshot(context, st)
    source.pixels = capture.image_pixels(st.reference)[0]
    job = prepare.prepare(source)
    return job, validate_job(job.body, job.payloads)


def test_the_job_follows_the_one_list_whatever_the_sources(build_scene):
    scene = build_scene(frames=4)
    cube = _proxy(scene)
    assert bpy.ops.trackgo.auto_pair() == {"FINISHED"}
    bpy.context.view_layer.objects.active = cube
    assert bpy.ops.trackgo.scene_source_add(kind="OBJECT") == {"FINISHED"}
    st = scene.trackgo
    assert [(t.name, t.source) for t in st.tracks] == [("Ball", "PAINTED"), ("Box", "PAINTED"), ("Proxy", "OBJECT")]
    assert tuple(st.tracks[2].color) != tuple(st.tracks[1].color)
    st.tracks.move(2, 0)                                   # the scene track first: the job follows
    job, parsed = _job(bpy.context)
    assert job.track_names == ["Proxy", "Ball", "Box"]
    assert parsed.tracks[0].arrow is None and parsed.tracks[0].points.frames == 4
    assert parsed.tracks[1].arrow is not None and parsed.tracks[1].points is None
    assert job.meta[0]["track_source"] == "OBJECT" and job.meta[1]["arrow"]
    from blender_addon.blender.scene_sources import job_colors      # the overlay's colour per job track
    assert job_colors(st) == [tuple(st.tracks[n].color) for n in job.track_names]
    # Auto-Pair rebuilds the painted tracks and keeps the scene track with its object
    assert bpy.ops.trackgo.auto_pair() == {"FINISHED"}
    assert sorted((t.name, t.source) for t in st.tracks) == [("Ball", "PAINTED"), ("Box", "PAINTED"),
                                                             ("Proxy", "OBJECT")]
    assert next(t for t in st.tracks if t.source == "OBJECT").object == cube
    # a disabled track is left out; a painted track made a scene track needs its object
    st.tracks["Ball"].enabled = False
    assert _job(bpy.context)[0].track_names == [t.name for t in st.tracks if t.name != "Ball"]
    st.tracks["Box"].source = "COLLECTION"
    with pytest.raises(ValueError, match="'Box': pick a collection"):
        _job(bpy.context)


def test_the_panel_lists_each_tracks_source_and_adds_every_kind(build_scene):
    from blender_addon.blender import panels
    scene = build_scene()
    _proxy(scene)
    bpy.ops.trackgo.auto_pair()
    bpy.context.view_layer.objects.active = bpy.data.objects["Proxy"]
    bpy.ops.trackgo.scene_source_add(kind="OBJECT")
    st = scene.trackgo
    log = []
    panels.TRACKGO_UL_tracks.draw_item(None, bpy.context, Recorder(log), st, st.tracks[2], 0, st, "track_index")
    assert ("label", "Proxy") in log                      # what drives it, not an arrow problem
    st.track_index = 2
    drawn = _draw_all(bpy)
    assert ("operator_menu_enum", "trackgo.scene_source_add", "kind") in drawn
    assert ("prop", "object") in drawn and ("prop", "source") in drawn
    assert ("prop_search", "arrow", "arrows") not in drawn   # a scene track has no arrow to pick
    kinds = [k.identifier for k in bpy.ops.trackgo.scene_source_add.get_rna_type().properties["kind"].enum_items]
    assert kinds == ["PAINTED", "OBJECT", "COLLECTION", "TRACKER"]
    props = bpy.data.collections.new("Props")
    scene.collection.children.link(props)
    layer = bpy.context.view_layer
    layer.active_layer_collection = layer.layer_collection.children["Props"]
    for kind in kinds:
        assert bpy.ops.trackgo.scene_source_add(kind=kind) == {"FINISHED"}
    assert [t.source for t in st.tracks][-4:] == kinds
    assert st.tracks[-2].collection == props and st.tracks[-2].name == "Props"
    before = len(st.tracks)
    assert bpy.ops.trackgo.track_remove() == {"FINISHED"}          # one Remove for every kind
    assert len(st.tracks) == before - 1


def test_a_file_with_the_old_separate_scene_list_opens_with_one_list(addon, tmp_path):
    scene = bpy.context.scene
    cube = _proxy(scene)
    st = scene.trackgo
    painted = st.tracks.add()
    painted.name = "Painted"
    old = scene.trackgo_scene.sources.add()              # as the add-on before the one list saved it
    old.name, old.kind, old.object, old.enabled = "Proxy", "OBJECT", cube, False
    clip_old = scene.trackgo_scene.sources.add()
    clip_old.name, clip_old.kind = "Markers", "TRACKER"
    path = str(tmp_path / "old.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    scene = bpy.context.scene
    st = scene.trackgo
    assert [(t.name, t.source) for t in st.tracks] == [("Painted", "PAINTED"), ("Proxy", "OBJECT"),
                                                       ("Markers", "TRACKER")]
    assert st.tracks["Proxy"].object == bpy.data.objects["Proxy"] and not st.tracks["Proxy"].enabled
    assert len(scene.trackgo_scene.sources) == 0


def test_adding_a_scene_track_is_one_undo_step(addon):
    scene = bpy.context.scene
    cube = _proxy(scene)
    bpy.context.view_layer.objects.active = cube
    bpy.ops.ed.undo_push(message="start")
    assert bpy.ops.trackgo.scene_source_add("EXEC_DEFAULT", True, kind="OBJECT") == {"FINISHED"}
    assert [t.name for t in bpy.context.scene.trackgo.tracks] == ["Proxy"]
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert len(bpy.context.scene.trackgo.tracks) == 0
    assert bpy.ops.ed.redo() == {"FINISHED"}
    (track,) = bpy.context.scene.trackgo.tracks
    assert track.source == "OBJECT" and track.object == bpy.data.objects["Proxy"]
