"""Sidebar panels "TrackGo" in the Image Editor and the Sequencer preview, and the track list."""

import bpy

from . import inputs, session, strips
from .properties import GENERATION_SETTINGS


class TRACKGO_UL_tracks(bpy.types.UIList):
    """Motion tracks of every source: enable, colour, mask ↔ arrow pairing, or what drives them."""
    bl_idname = "TRACKGO_UL_tracks"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        row.prop(item, "color", text="")
        row.prop(item, "name", text="", emboss=False)
        if item.source != "PAINTED":            # scene object(s) or tracker markers (issue 14)
            from .panels_scene import driver_label
            text, icon = driver_label(item)
            row.label(text=text, icon=icon)
            return
        problem = inputs.arrow_problem(item, _arrow_keys(context, data))
        if problem:
            row.label(text=problem, icon="ERROR")
        else:
            source = data.arrows.get(item.arrow)
            row.label(text=source.label if source is not None else item.arrow, icon="FORWARD")


def _arrow_keys(context, settings) -> set[str]:
    try:
        return inputs.current_arrow_keys(context, settings)
    except Exception:  # noqa: BLE001 - drawing must never raise; Generate reports the cause
        return set()



class _Base:
    bl_region_type = "UI"
    bl_category = "TrackGo"

    @classmethod
    def poll(cls, context):
        space = context.space_data
        if space is None:
            return False
        if space.type == "SEQUENCE_EDITOR":
            return space.view_type in {"PREVIEW", "SEQUENCER_PREVIEW"}
        return space.type == "IMAGE_EDITOR"


def _panels(space: str, suffix: str):
    """The five panels for one editor type (Blender needs one class per space)."""

    class Server(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_server_{suffix}"
        bl_label = "Server"
        bl_space_type = space

        def draw(self, context):
            st = context.scene.trackgo
            connected = session.is_connected()  # the live socket, not a saved flag
            col = self.layout.column()
            row = col.row(align=True)
            if connected or session.SESSION.client is not None:
                row.operator("trackgo.disconnect", icon="UNLINKED")
            if not connected:
                row.operator("trackgo.connect", icon="LINKED")
            status = st.status if connected or session.SESSION.client is not None else "Not connected"
            col.label(text=status, icon="CHECKMARK" if connected else "INFO")
            if st.error:
                box = col.box()
                for i, line in enumerate(_wrap(st.error, 48)):
                    box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")

    class Reference(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_reference_{suffix}"
        bl_label = "Reference"
        bl_space_type = space

        def draw(self, context):
            st = context.scene.trackgo
            col = self.layout.column()
            col.template_ID(st, "reference", open="image.open")
            row = col.row(align=True)
            if space == "IMAGE_EDITOR":
                row.operator("trackgo.use_editor_image", icon="IMAGE_DATA")
            row.operator("trackgo.grab_sequencer_frame", icon="SEQUENCE")
            col.prop(st, "mask")
            col.prop(st, "annotation")
            col.prop(st, "arrows_object")

    class Tracks(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_tracks_{suffix}"
        bl_label = "Motion Tracks"
        bl_space_type = space

        def draw(self, context):
            st = context.scene.trackgo
            layout = self.layout
            row = layout.row()
            row.template_list("TRACKGO_UL_tracks", "", st, "tracks", st, "track_index", rows=3)
            col = row.column(align=True)
            col.operator_menu_enum("trackgo.scene_source_add", "kind", icon="ADD", text="")
            col.operator("trackgo.track_remove", icon="REMOVE", text="")
            row = layout.row(align=True)
            row.operator("trackgo.auto_pair", icon="AUTO")
            row.operator("trackgo.refresh_sources", icon="FILE_REFRESH", text="")
            if 0 <= st.track_index < len(st.tracks):
                t = st.tracks[st.track_index]
                box = layout.box()
                if t.source != "PAINTED":
                    from .panels_scene import draw_track_source
                    draw_track_source(box, t)
                    return
                box.prop(t, "source")
                box.prop_search(t, "mask_layer", st, "masks", icon="MOD_MASK")
                box.prop(t, "mask_image")
                box.prop_search(t, "arrow", st, "arrows", icon="FORWARD")
                box.prop(t, "easing")
                box.prop(t, "turn_along_arrow")
                box.prop(t, "soft_edge")
                box.prop(t, "manual")

    class Settings(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_settings_{suffix}"
        bl_label = "Settings"
        bl_space_type = space
        bl_options = {"DEFAULT_CLOSED"}

        def draw(self, context):
            st = context.scene.trackgo
            col = self.layout.column(align=True)
            col.prop(st, "backend")
            honoured = session.backend_params(st.backend)
            for name in GENERATION_SETTINGS:  # only those the backend honours (all for 1.0)
                if honoured is None or name in honoured:
                    col.prop(st, name)
            col.prop(st, "size_mode")
            if st.size_mode == "CUSTOM":
                col.prop(st, "width")
                col.prop(st, "height")
            col.prop(st, "fit")
            row = col.row(align=True)
            row.prop(st, "random_seed", text="Random")
            sub = row.row(align=True)
            sub.enabled = not st.random_seed
            sub.prop(st, "seed")

    class Generate(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_generate_{suffix}"
        bl_label = "Generate"
        bl_space_type = space

        def draw(self, context):
            st = context.scene.trackgo
            col = self.layout.column()
            row = col.row(align=True)
            row.operator("trackgo.preview_points", icon="HIDE_OFF")
            row.prop(st, "show_overlay", text="", icon="OVERLAY")
            row = col.row(align=True)
            row.scale_y = 1.4
            busy = session.is_busy(context.scene.name)
            row.enabled = session.is_connected()
            row.operator("trackgo.generate", icon="RENDER_ANIMATION")
            if busy:
                row.operator("trackgo.cancel", icon="CANCEL", text="")
            if busy or st.progress_text:
                if hasattr(col, "progress"):
                    col.progress(factor=st.progress, type="BAR", text=st.progress_text)
                else:
                    col.label(text=st.progress_text)
            mismatch = strips.fps_mismatch(context.scene, strips.last_trackgo_strip(context.scene))
            if mismatch:
                box = col.box()
                box.label(text=f"Made for {mismatch[0]} fps; the scene plays {mismatch[1]:g} fps", icon="ERROR")
                box.operator("trackgo.match_scene_fps", icon="TIME")
            row = col.row(align=True)
            row.operator("trackgo.regenerate", text="Regenerate", icon="FILE_REFRESH").new_seed = False
            row.operator("trackgo.regenerate", text="New Seed", icon="SHADERFX").new_seed = True

    return (Server, Reference, Tracks, Settings, Generate)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return lines + ([cur] if cur else [])


CLASSES = (TRACKGO_UL_tracks,) + _panels("IMAGE_EDITOR", "image") + _panels("SEQUENCE_EDITOR", "sequencer")