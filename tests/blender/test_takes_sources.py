"""A take records, and puts back, what drives its scene / tracker tracks: the object or collection
and the camera, the clip and its mask, the timing (issue 14), as it does for painted tracks."""
from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from .conftest import build_scene, server  # noqa: E402,F401  (fixtures)


def _clip(tmp_path):
    img = bpy.data.images.new("frame", 32, 24)
    img.filepath_raw = str(tmp_path / "frame0001.png")
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)
    return bpy.data.movieclips.load(str(tmp_path / "frame0001.png"))


def test_a_take_keeps_and_restores_the_scene_and_tracker_sources(addon, tmp_path):
    from blender_addon import demo_previs_scene as ds
    from blender_addon.blender import takes, takes_restore
    from blender_addon.io import takes as io_takes

    scene = bpy.context.scene
    cube, other = ds.box("Proxy"), ds.box("Other", location=(3.0, 0.0, 0.0))
    cam = ds.camera("ShotCam")
    props = bpy.data.collections.new("Props")
    scene.collection.children.link(props)
    clip, mask = _clip(tmp_path), bpy.data.images.new("ClipMask", 32, 24)
    st, shared = scene.trackgo, scene.trackgo_scene
    for name, source, field, value in (("Proxy", "OBJECT", "object", cube), ("Props", "COLLECTION", "collection", props),
                                       ("Markers", "TRACKER", "clip", clip)):
        t = st.tracks.add()
        t.name, t.source = name, source
        setattr(t, field, value)
    st.tracks["Markers"].mask_image = mask
    st.tracks["Proxy"].bone = ""
    shared.camera, shared.timing, shared.reference_from = cam, "REALTIME", "EEVEE"

    stored = takes.capture_sources(bpy.context, st)
    record = io_takes.from_text(io_takes.to_text(io_takes.TakeRecord(body={}, payloads=[], sources=stored)))

    # the shot is edited after the take was made
    st.tracks["Proxy"].object = other
    st.tracks["Markers"].clip = None
    st.tracks.remove(1)
    shared.camera, shared.timing, shared.reference_from = None, "FIT", "WORKBENCH"

    takes_restore.restore(bpy.context, record)
    st, shared = bpy.context.scene.trackgo, bpy.context.scene.trackgo_scene
    assert [(t.name, t.source) for t in st.tracks] == [("Proxy", "OBJECT"), ("Props", "COLLECTION"),
                                                       ("Markers", "TRACKER")]
    assert st.tracks["Proxy"].object == cube and st.tracks["Props"].collection == props
    assert st.tracks["Markers"].clip == clip and st.tracks["Markers"].mask_image == mask
    assert (shared.camera, shared.timing, shared.reference_from) == (cam, "REALTIME", "EEVEE")


def test_a_source_gone_from_the_file_is_named_and_the_list_is_left_as_it_was(addon):
    from blender_addon import demo_previs_scene as ds
    from blender_addon.blender import takes, takes_restore
    from blender_addon.io import takes as io_takes

    st = bpy.context.scene.trackgo
    cube = ds.box("Proxy")
    t = st.tracks.add()
    t.name, t.source, t.object = "Proxy", "OBJECT", cube
    record = io_takes.TakeRecord(body={}, payloads=[], sources=takes.capture_sources(bpy.context, st))
    bpy.data.objects.remove(cube)
    t = st.tracks.add()
    t.name = "Now"
    with pytest.raises(takes_restore.RestoreError, match="'Proxy'.*object 'Proxy'"):
        takes_restore.restore(bpy.context, record)
    assert [t.name for t in bpy.context.scene.trackgo.tracks] == ["Proxy", "Now"]
    assert np.all([t.object is None for t in bpy.context.scene.trackgo.tracks])


def test_extending_a_take_with_a_scene_track_says_why_it_cannot(build_scene, server):
    from .conftest import connect, drive
    from .test_takes import _idle
    from .test_track_list import _proxy

    scene = build_scene(frames=3)
    cube = _proxy(scene)
    connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    bpy.context.view_layer.objects.active = cube
    bpy.ops.trackgo.scene_source_add(kind="OBJECT")
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: _idle(bpy), 90)
    take = scene.trackgo_takes[0]
    assert take.state == "done", (take.state, scene.trackgo.error)
    from blender_addon.blender import takes
    stored = {t["name"]: t for t in takes.record_of(take).sources["tracks"]}
    assert stored["Proxy"]["source"] == "OBJECT" and stored["Proxy"]["object"] == "Proxy"   # recorded by Generate
    with pytest.raises(RuntimeError, match="track 'Proxy' follows points from the scene"):
        bpy.ops.trackgo.take_extend()
    assert len(scene.trackgo_takes) == 1


def test_a_point_tracks_visibility_bytes_round_trip_in_the_take_text():
    from blender_addon.io import takes as io_takes

    vis = bytes([1, 0, 1, 1, 0, 1])
    body = {"params": {"seed": 5}, "tracks": [{"name": "Proxy", "points": {"payload": 1, "format": "f32", "count": 2,
                                                                         "frames": 3, "visible": vis}}]}
    text = io_takes.to_text(io_takes.TakeRecord(body=body, payloads=[b"ref", b"pts"]))
    back = io_takes.from_text(text)
    assert back.body == body and back.body["tracks"][0]["points"]["visible"] == vis
    assert back.job()[0]["tracks"][0]["points"]["visible"] == vis                 # sent again as bytes
    damaged = text.replace(io_takes.base64.b64encode(vis).decode(), "!!!!")
    with pytest.raises(io_takes.TakeError, match=r"take.body.tracks\[0\].points.visible"):
        io_takes.from_text(damaged)
