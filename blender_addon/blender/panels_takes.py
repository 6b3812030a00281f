"""The "Takes" panel: the shot's take list and what can be done with the chosen take."""
from __future__ import annotations

import bpy

from .panels import _Base


class TRACKGO_UL_takes(bpy.types.UIList):
    """Takes: favourite, name, seed, backend, state."""
    bl_idname = "TRACKGO_UL_takes"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "favourite", text="", icon="SOLO_ON" if item.favourite else "SOLO_OFF", emboss=False)
        row.prop(item, "name", text="", emboss=False)
        row.label(text=f"seed {item.seed}")
        row.label(text=f"{item.backend} · {item.state}")


def _panel(space: str, suffix: str):
    class Takes(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_takes_{suffix}"
        bl_label = "Takes"
        bl_space_type = space

        def draw(self, context):
            scene = context.scene
            col = self.layout.column()
            col.template_list("TRACKGO_UL_takes", "", scene, "trackgo_takes", scene, "trackgo_take_index", rows=3)
            if len(scene.trackgo_takes):
                take = scene.trackgo_takes[min(scene.trackgo_take_index, len(scene.trackgo_takes) - 1)]
                col.prop(take, "note")
                col.label(text=f"#{take.number} · {take.date} · {take.frames} frames")
                col.operator("trackgo.take_regenerate", icon="FILE_REFRESH")
                col.operator("trackgo.take_restore", icon="LOOP_BACK")
                col.operator("trackgo.take_extend", icon="FF")
                row = col.row(align=True)
                row.operator("trackgo.take_compare", text="Onion", icon="IMAGE_REFERENCE").mode = "ONION"
                row.operator("trackgo.take_compare", text="A/B", icon="SPLIT_VERTICAL").mode = "WIPE"
                row = col.row(align=True)
                row.operator("trackgo.take_movie_clip", icon="SEQUENCE")
                row.operator("trackgo.take_camera_background", icon="CAMERA_DATA", text="Camera BG")
                row = col.row(align=True)
                row.operator("trackgo.take_delete", icon="TRASH")
                row.operator("trackgo.take_delete", text="and Frames").delete_frames = True
            col.operator("trackgo.generate_variants", icon="DUPLICATE")

    return Takes


CLASSES = (TRACKGO_UL_takes, _panel("IMAGE_EDITOR", "image"), _panel("SEQUENCE_EDITOR", "sequencer"))
