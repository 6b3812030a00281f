"""First hour, item 11: strips play at the job's speed (or offer to set the scene), are named
after the shot and take, leave the temporary folder when the file is saved, and Grab Sequencer
Frame takes the picture as the sequencer shows it."""
from __future__ import annotations

import os
import tempfile

import numpy as np

from .conftest import build_scene, connect, drive, make_reference  # noqa: F401  (fixtures)
from .test_panels import _draw_all


def _strips(bpy):
    from blender_addon.blender import compat
    return sorted(compat.strips(bpy.context.scene.sequence_editor), key=lambda s: s.channel)


def test_takes_are_named_after_the_shot_and_the_fps_can_be_matched(build_scene, server):
    import bpy

    scene = build_scene(frames=3)
    scene.name = "sh010"
    scene.render.fps, scene.render.fps_base = 24, 1.0
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    for _ in range(2):
        assert bpy.ops.trackgo.generate() == {"FINISHED"}
        drive(lambda: not st.busy, 60)
    takes = _strips(bpy)
    assert [s.name for s in takes] == ["sh010 take 1", "sh010 take 2"]
    assert [os.path.basename(os.path.dirname(bpy.path.abspath(s.directory))) for s in takes] == \
        ["take_001", "take_002"]
    # 7 fps frames in a 24 fps scene: the panel says so and offers to set the scene.
    log = _draw_all(bpy)
    assert ("label", "Made for 7 fps; the scene plays 24 fps") in log
    assert ("operator", "trackgo.match_scene_fps") in log
    assert bpy.ops.trackgo.match_scene_fps() == {"FINISHED"}
    assert (scene.render.fps, scene.render.fps_base) == (7, 1.0)
    assert ("operator", "trackgo.match_scene_fps") not in _draw_all(bpy)


def test_frames_of_an_unsaved_file_move_beside_it_when_saved(build_scene, server, tmp_path):
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_scene(frames=3)
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    bpy.ops.trackgo.generate()
    drive(lambda: not st.busy, 60)
    strip = _strips(bpy)[0]
    temp_folder = os.path.realpath(bpy.path.abspath(strip.directory))
    assert temp_folder.startswith(os.path.realpath(tempfile.gettempdir()))
    blend = tmp_path / "saved" / "shot.blend"
    blend.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    strip = _strips(bpy)[0]
    folder = os.path.realpath(bpy.path.abspath(strip.directory))
    assert folder.startswith(str(blend.parent / "trackgo") + os.sep), folder
    assert sorted(os.listdir(folder)) == [e.filename for e in strip.elements] == ["0001.png", "0002.png", "0003.png"]
    assert not os.path.exists(temp_folder)
    # Reopened, the strip still finds its frames.
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    strip = _strips(bpy)[0]
    assert os.path.isfile(os.path.join(bpy.path.abspath(strip.directory), strip.elements[0].filename))


def test_grab_takes_the_plate_as_shown_not_the_render_size(addon, tmp_path):
    bpy = addon
    from blender_addon.blender import capture, compat

    scene = bpy.context.scene
    plate = make_reference(bpy, 300, 200, name="Plate")
    plate.filepath_raw = str(tmp_path / "plate.png")
    plate.file_format = "PNG"
    plate.save()
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1920, 1080, 100
    se = scene.sequence_editor_create()
    compat.strips(se).new_image(name="Plate", filepath=str(tmp_path / "plate.png"), channel=1, frame_start=1)
    scene.frame_current = 1
    assert bpy.ops.trackgo.grab_sequencer_frame() == {"FINISHED"}
    ref = scene.trackgo.reference
    assert tuple(ref.size) == (300, 200) and ref.packed_file is not None
    got = capture.reference_rgb(ref).astype(int)
    want = capture.reference_rgb(bpy.data.images.load(str(tmp_path / "plate.png"))).astype(int)
    assert np.abs(got - want).max() <= 1
