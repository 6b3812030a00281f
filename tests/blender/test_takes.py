"""Takes against the real preview server: exact regenerate after edits, restore, batches,
choosing and deleting, and takes that survive save / reload / appending the scene."""
from __future__ import annotations

import os

import numpy as np

from .conftest import build_scene, connect, drive  # noqa: F401  (fixtures)


def _idle(bpy):
    from blender_addon.blender import session
    return not session.SESSION.jobs and not session.SESSION.pending and not session.SESSION.preparing


def _frames(bpy, scene, take) -> list[bytes]:
    from blender_addon.blender import takes
    strip = takes.strip_of(scene, take)
    assert strip is not None, take.name
    folder = bpy.path.abspath(strip.directory)
    return [open(os.path.join(folder, e.filename), "rb").read() for e in strip.elements]


def _edit_masks_and_arrows(bpy, scene):
    """Move a mask point and every arrow's head: the scene now describes another shot."""
    from blender_addon.blender import compat
    st = scene.trackgo
    st.mask.layers["Ball"].splines[0].points[0].co[0] += 0.05
    if st.arrows_object is not None and st.arrows_object.type == "GREASEPENCIL":
        drawing = st.arrows_object.data.layers[0].current_frame().drawing
        for stroke in drawing.strokes:
            stroke.points[len(stroke.points) - 1].position[1] += 0.3
    else:
        annot = st.annotation
        for layer in annot.layers:
            for stroke in layer.frames[0].strokes:
                stroke.points[len(stroke.points) - 1].co[1] += 0.2
    st.seed = 99
    return compat


def _generate(bpy, op="generate", **kw):
    assert getattr(bpy.ops.trackgo, op)(**kw) == {"FINISHED"}
    drive(lambda: _idle(bpy), 90)


def test_regenerate_after_edit_is_byte_identical_and_restore_brings_sources_back(build_scene, server):
    from blender_addon.blender import takes

    bpy = __import__("bpy")
    scene = build_scene(frames=5)
    st = connect(bpy, server.address)
    assert st.connected, st.error
    bpy.ops.trackgo.auto_pair()
    _generate(bpy)
    assert len(scene.trackgo_takes) == 1
    first = scene.trackgo_takes[0]
    assert first.state == "done" and first.seed == "1234" and first.frames == 5
    original = _frames(bpy, scene, first)
    sources_then = takes.capture_sources(bpy.context, st)

    _edit_masks_and_arrows(bpy, scene)
    assert takes.capture_sources(bpy.context, st) != sources_then
    bpy.ops.trackgo.auto_pair()       # the edited arrows: Generate refuses until they are re-paired
    _generate(bpy)                    # the edited scene: a different shot (so the test can fail)
    edited = _frames(bpy, scene, scene.trackgo_takes[1])
    assert edited != original

    scene.trackgo_take_index = 0
    _generate(bpy, "take_regenerate")
    again = scene.trackgo_takes[2]
    assert again.seed == "1234" and again.state == "done"
    assert _frames(bpy, scene, again) == original   # byte for byte
    assert takes.record_of(again).reference_hash == takes.record_of(first).reference_hash

    scene.trackgo_take_index = 0
    assert bpy.ops.trackgo.take_restore() == {"FINISHED"}
    assert takes.capture_sources(bpy.context, st) == sources_then
    # Restored sources give the first take's job again through the ordinary Generate path.
    from blender_addon.blender.operators import build_now
    job = build_now(bpy.context)
    body, payloads = job.body, job.payloads
    rec = takes.record_of(first)
    assert payloads == rec.payloads and body["tracks"] == rec.body["tracks"]


def test_choosing_a_take_shows_its_strip_and_batches_stack_with_one_visible(build_scene, server):
    from blender_addon.blender import takes

    bpy = __import__("bpy")
    scene = build_scene(frames=3)
    connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    _generate(bpy, "generate_variants", count=3)
    assert [t.name for t in scene.trackgo_takes] == ["Take 1", "Take 2", "Take 3"]
    assert len({t.seed for t in scene.trackgo_takes}) == 3
    strips = [takes.strip_of(scene, t) for t in scene.trackgo_takes]
    assert all(s is not None for s in strips)
    assert sorted(s.channel for s in strips) == [1, 2, 3]
    assert [s.mute for s in strips] == [False, True, True]
    assert len({takes.record_of(t).body["params"]["seed"] for t in scene.trackgo_takes}) == 3  # sent as such

    scene.trackgo_take_index = 2
    assert [s.mute for s in strips] == [True, True, False]
    assert scene.sequence_editor.active_strip == strips[2]

    folder = bpy.path.abspath(strips[1].directory)
    scene.trackgo_take_index = 1
    assert bpy.ops.trackgo.take_delete(delete_frames=True) == {"FINISHED"}
    assert [t.name for t in scene.trackgo_takes] == ["Take 1", "Take 3"]
    assert not os.path.exists(folder)
    scene.trackgo_take_index = 0
    assert bpy.ops.trackgo.take_delete() == {"FINISHED"}   # strip gone, frames stay
    from blender_addon.blender import compat
    assert len(list(compat.strips(scene.sequence_editor))) == 1


def test_random_seed_is_fixed_before_sending(build_scene, server):
    bpy = __import__("bpy")
    scene = build_scene(frames=3)
    st = connect(bpy, server.address)
    st.random_seed = True
    bpy.ops.trackgo.auto_pair()
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: len(scene.trackgo_takes) == 1, 60)   # recorded as the built job leaves
    seed = scene.trackgo_takes[0].seed
    assert seed.isdigit()                       # known before any `done` (a cancelled take keeps it)
    bpy.ops.trackgo.cancel()
    drive(lambda: _idle(bpy), 60)
    assert scene.trackgo_takes[0].seed == seed


def test_takes_survive_save_reload_and_appending_the_scene(build_scene, server, tmp_path):
    from blender_addon.blender import takes

    bpy = __import__("bpy")
    scene = build_scene(frames=3)
    scene.name = "Shot"
    connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    _generate(bpy)
    original = _frames(bpy, scene, scene.trackgo_takes[0])
    record = scene.trackgo_takes[0].record
    path = str(tmp_path / "shot.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)

    bpy.ops.wm.open_mainfile(filepath=path)
    scene = bpy.data.scenes["Shot"]
    assert [t.name for t in scene.trackgo_takes] == ["Take 1"]
    assert scene.trackgo_takes[0].record == record
    assert takes.record_of(scene.trackgo_takes[0]).seed == 1234
    assert bpy.context.scene == scene
    connect(bpy, server.address)
    _generate(bpy, "take_regenerate")
    assert _frames(bpy, scene, scene.trackgo_takes[1]) == original
    bpy.ops.wm.save_mainfile()

    bpy.ops.wm.read_factory_settings(use_empty=True)
    with bpy.data.libraries.load(path, link=False) as (src, dst):
        dst.scenes = ["Shot"]
    appended = bpy.data.scenes["Shot"]
    assert len(appended.trackgo_takes) == 2
    assert takes.record_of(appended.trackgo_takes[0]).payloads[0] == takes.record_of(appended.trackgo_takes[1]).payloads[0]


def test_regenerate_warns_when_another_server_or_model_answers(build_scene, server, capfd):
    from blender_addon.blender import takes
    from blender_addon.io import takes as io_takes

    bpy = __import__("bpy")
    scene = build_scene(frames=3)
    connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    _generate(bpy)
    _generate(bpy, "take_regenerate")
    assert "may differ" not in capfd.readouterr().out
    take = scene.trackgo_takes[0]
    rec = takes.record_of(take)
    rec.server = {**rec.server, "models": {"preview": "an older preview"}}
    take.record = io_takes.to_text(rec)
    scene.trackgo_take_index = 0
    _generate(bpy, "take_regenerate")
    out = capfd.readouterr().out
    assert "an older preview" in out and "the frames may differ" in out
