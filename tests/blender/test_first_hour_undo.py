"""First hour, item 5: undo. Operators that change data are undo steps; one Ctrl+Z after a take
removes the take's strip and nothing else; Ctrl+Z while a job runs keeps its strip and frames
consistent (the strip comes back in step with the files on disk)."""
from __future__ import annotations

import os

from .conftest import build_scene, connect, drive  # noqa: F401  (fixtures)


def _ui(op):
    """Call an operator as a button does: with its undo push (bpy.ops calls from scripts skip it)."""
    return op("EXEC_DEFAULT", True)


def _undo_stack(bpy):
    """Background Blender has no undo stack until a script pushes the first step."""
    bpy.ops.ed.undo_push(message="start")


def _strips(bpy):
    from blender_addon.blender import compat
    se = bpy.context.scene.sequence_editor
    return list(compat.strips(se)) if se is not None else []


def test_one_undo_after_generate_removes_the_strip_not_the_tracks(build_scene, server):
    import bpy

    build_scene(frames=3)
    connect(bpy, server.address)
    _undo_stack(bpy)
    assert _ui(bpy.ops.trackgo.auto_pair) == {"FINISHED"}
    assert _ui(bpy.ops.trackgo.generate) == {"FINISHED"}
    drive(lambda: not bpy.context.scene.trackgo.busy, 60)
    assert len(_strips(bpy)) == 1 and len(_strips(bpy)[0].elements) == 3
    assert bpy.ops.ed.undo() == {"FINISHED"}
    st = bpy.context.scene.trackgo  # undo replaced the data: look it up again
    assert _strips(bpy) == []
    assert [t.name for t in st.tracks] == ["Ball", "Box"] and all(t.arrow for t in st.tracks)
    assert bpy.ops.ed.redo() == {"FINISHED"}
    assert len(_strips(bpy)) == 1 and len(_strips(bpy)[0].elements) == 3
    # Generate and Auto-Pair are steps of their own: back past Generate the tracks are there,
    # one step further Auto-Pair is undone.
    bpy.ops.ed.undo()
    bpy.ops.ed.undo()
    assert _strips(bpy) == [] and len(bpy.context.scene.trackgo.tracks) == 2
    bpy.ops.ed.undo()
    assert len(bpy.context.scene.trackgo.tracks) == 0


def test_undo_while_a_job_runs_keeps_strip_and_frames_consistent(build_scene, slow_server):
    import bpy

    build_scene(frames=10)
    st = connect(bpy, slow_server.address)
    st.random_seed, st.seed = False, 8102
    _undo_stack(bpy)
    _ui(bpy.ops.trackgo.auto_pair)
    assert _ui(bpy.ops.trackgo.generate) == {"FINISHED"}
    drive(lambda: any(len(s.elements) >= 2 for s in _strips(bpy)), 60)
    assert bpy.ops.ed.undo() == {"FINISHED"}  # back to before Generate: the strip is gone ...
    assert _strips(bpy) == [] and len(bpy.context.scene.trackgo.tracks) == 2
    drive(lambda: len(_strips(bpy)) == 1, 30)  # ... and comes back with the frames on disk
    slow_server.release(8102)                  # the backend held the job after 3 frames: go on
    drive(lambda: not bpy.context.scene.trackgo.busy, 60)
    strips = _strips(bpy)
    assert len(strips) == 1
    folder = bpy.path.abspath(strips[0].directory)
    files = sorted(os.listdir(folder))
    assert len(files) == 10 and [e.filename for e in strips[0].elements] == files
    assert len(bpy.context.scene.trackgo.tracks) == 2
