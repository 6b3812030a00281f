"""Sidebar panels "TrackGo" in the Image Editor and the Sequencer preview, and the track list."""

import bpy



class TRACKGO_UL_tracks(bpy.types.UIList):
    """Motion tracks: enable, colour, mask ↔ arrow pairing, easing."""
    bl_idname = "TRACKGO_UL_tracks"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        row.prop(item, "color", text="")
        row.prop(item, "name", text="", emboss=False)
        row.label(text=item.arrow.split(":", 1)[-1] or "no arrow", icon="FORWARD")


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
            col = self.layout.column()
            row = col.row(align=True)
            if st.connected:
                row.operator("trackgo.disconnect", icon="UNLINKED")
            else:
                row.operator("trackgo.connect", icon="LINKED")
            col.label(text=st.status, icon="CHECKMARK" if st.connected else "INFO")
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
            col.operator("trackgo.track_add", icon="ADD", text="")
            col.operator("trackgo.track_remove", icon="REMOVE", text="")
            row = layout.row(align=True)
            row.operator("trackgo.auto_pair", icon="AUTO")
            row.operator("trackgo.refresh_sources", icon="FILE_REFRESH", text="")
            if 0 <= st.track_index < len(st.tracks):
                t = st.tracks[st.track_index]
                box = layout.box()
                box.prop_search(t, "mask_layer", st, "masks", icon="MOD_MASK")
                box.prop(t, "mask_image")
                box.prop_search(t, "arrow", st, "arrows", icon="FORWARD")
                box.prop(t, "easing")
                box.prop(t, "manual")

    class Settings(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_settings_{suffix}"
        bl_label = "Settings"
        bl_space_type = space
        bl_options = {"DEFAULT_CLOSED"}

        def draw(self, context):
            st = context.scene.trackgo
            col = self.layout.column(align=True)
            for name in ("frames", "fps", "motion_bucket_id", "num_inference_steps", "noise_aug_strength",
                         "min_guidance_scale", "max_guidance_scale", "tau", "alpha", "dual_clock_weak",
                         "dual_clock_strong", "background_follow", "width", "height", "backend"):
                col.prop(st, name)
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
            row.enabled = st.connected
            row.operator("trackgo.generate", icon="RENDER_ANIMATION")
            if st.busy:
                row.operator("trackgo.cancel", icon="CANCEL", text="")
            if st.busy or st.progress_text:
                if hasattr(col, "progress"):
                    col.progress(factor=st.progress, type="BAR", text=st.progress_text)
                else:
                    col.label(text=st.progress_text)
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