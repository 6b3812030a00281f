"""The "Timing" panel: the active track's start/end frame, curve presets, and its progress key."""
from __future__ import annotations

import bpy

from . import timing
from .panels import _Base


def _panel(space: str, suffix: str):
    class Timing(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_timing_{suffix}"
        bl_label = "Timing"
        bl_space_type = space

        def draw(self, context):
            st = context.scene.trackgo
            col = self.layout.column()
            if not 0 <= st.track_index < len(st.tracks):
                col.label(text="Select a motion track")
                return
            t = st.tracks[st.track_index]
            has_curve = timing.fcurve(context.scene, st.track_index) is not None
            col.label(text=f"{t.name}: " + ("speed curve (Graph Editor)" if has_curve else f"easing {t.easing}"))
            row = col.row(align=True)
            row.prop(t.timing, "start_frame")
            row.prop(t.timing, "end_frame")
            grid = col.grid_flow(columns=2, align=True)
            for key, label, _ in timing.PRESETS:
                grid.operator("trackgo.timing_preset", text=label).preset = key
            col.prop(t.timing, "progress")
            if has_curve:
                col.operator("trackgo.timing_clear", icon="X")

    return Timing


CLASSES = (_panel("IMAGE_EDITOR", "image"), _panel("SEQUENCE_EDITOR", "sequencer"))
