"""Operators on a track's timing curve: apply a preset, clear the curve."""
from __future__ import annotations

import bpy
from bpy.props import EnumProperty

from . import timing
from .operators import reports_errors


def _active_track(context):
    st = context.scene.trackgo
    if not 0 <= st.track_index < len(st.tracks):
        raise ValueError("Timing: select a motion track first")
    return st.track_index


class TRACKGO_OT_timing_preset(bpy.types.Operator):
    """Key the active track's progress curve with a preset between its start and end frame"""
    bl_idname = "trackgo.timing_preset"
    bl_label = "Apply Timing Preset"
    bl_options = {"REGISTER", "UNDO"}

    preset: EnumProperty(name="Preset", items=timing.PRESETS, default="linear")

    @reports_errors
    def execute(self, context):
        index = _active_track(context)
        timing.apply_preset(context.scene, index, self.preset, context.scene.trackgo.frames)
        return {"FINISHED"}


class TRACKGO_OT_timing_clear(bpy.types.Operator):
    """Remove the active track's timing curve (its easing applies again)"""
    bl_idname = "trackgo.timing_clear"
    bl_label = "Clear Timing Curve"
    bl_options = {"REGISTER", "UNDO"}

    @reports_errors
    def execute(self, context):
        timing.clear(context.scene, _active_track(context))
        return {"FINISHED"}


CLASSES = (TRACKGO_OT_timing_preset, TRACKGO_OT_timing_clear)
