"""The Takes and Timing panels draw headless with real property and operator names."""
from __future__ import annotations

from types import SimpleNamespace

from .conftest import build_scene  # noqa: F401  (fixture)
from .test_panels import Recorder


class GridRecorder(Recorder):
    def grid_flow(self, *a, **k):
        return GridRecorder(self.log)

    def _child(self, *a, **k):
        return GridRecorder(self.log)

    column = row = box = split = _child


def _draw(bpy, classes):
    log = []
    for cls in classes:
        if issubclass(cls, bpy.types.Panel):
            cls.draw(SimpleNamespace(layout=GridRecorder(log)), bpy.context)
    return log


def test_takes_and_timing_panels_draw(build_scene):
    import bpy
    from blender_addon.blender import panels_takes, panels_timing

    scene = build_scene()
    bpy.ops.trackgo.auto_pair()
    ops = {e[1] for e in _draw(bpy, panels_takes.CLASSES) if e[0] == "operator"}
    assert ops == {"trackgo.generate_variants"}            # no takes yet: only a batch to start
    take = scene.trackgo_takes.add()
    take.name, take.seed, take.backend, take.state = "Take 1", "1234", "preview", "done"
    log = _draw(bpy, panels_takes.CLASSES)
    ops = {e[1] for e in log if e[0] == "operator"}
    assert {"trackgo.take_regenerate", "trackgo.take_restore", "trackgo.take_delete"} <= ops
    assert ("template_list", "trackgo_takes") in log and ("prop", "note") in log
    row = GridRecorder([])
    panels_takes.TRACKGO_UL_takes.draw_item(None, bpy.context, row, scene, take, 0, scene, "trackgo_take_index")
    assert ("label", "seed 1234") in row.log

    log = _draw(bpy, panels_timing.CLASSES)
    assert {"trackgo.timing_preset"} == {e[1] for e in log if e[0] == "operator"}
    assert bpy.ops.trackgo.timing_preset(preset="ease-in") == {"FINISHED"}
    log = _draw(bpy, panels_timing.CLASSES)
    assert "trackgo.timing_clear" in {e[1] for e in log if e[0] == "operator"}
    assert any("speed curve" in e[1] for e in log if e[0] == "label")
