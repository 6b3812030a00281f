"""The scene / tracker sources in the sidebar, inside "Motion Tracks" (Image Editor and Sequencer)."""
import bpy

from .panels import _Base


class TRACKGO_UL_motion_sources(bpy.types.UIList):
    """Scene-object, collection and tracker-marker tracks: enable, name, what drives them."""
    bl_idname = "TRACKGO_UL_motion_sources"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        row.prop(item, "name", text="", emboss=False)
        driver = {"OBJECT": item.object.name if item.object else "",
                  "COLLECTION": item.collection.name if item.collection else "",
                  "TRACKER": item.clip.name if item.clip else ""}[item.kind]
        icons = {"OBJECT": "OBJECT_DATA", "COLLECTION": "OUTLINER_COLLECTION", "TRACKER": "TRACKER"}
        row.label(text=driver or "—", icon=icons[item.kind])


def _panel(space: str, suffix: str):
    class SceneSources(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_scene_sources_{suffix}"
        bl_label = "From Scene & Tracker"
        bl_space_type = space
        bl_parent_id = f"TRACKGO_PT_tracks_{suffix}"

        def draw(self, context):
            st = context.scene.trackgo_scene
            layout = self.layout
            row = layout.row()
            row.template_list("TRACKGO_UL_motion_sources", "", st, "sources", st, "source_index", rows=2)
            col = row.column(align=True)
            col.operator_menu_enum("trackgo.scene_source_add", "kind", icon="ADD", text="")
            col.operator("trackgo.scene_source_remove", icon="REMOVE", text="")
            if 0 <= st.source_index < len(st.sources):
                s = st.sources[st.source_index]
                box = layout.box()
                box.prop(s, "kind")
                if s.kind == "OBJECT":
                    box.prop(s, "object")
                    if s.object is not None and s.object.type == "ARMATURE":
                        box.prop_search(s, "bone", s.object.data, "bones")
                elif s.kind == "COLLECTION":
                    box.prop(s, "collection")
                else:
                    box.prop(s, "clip")
                    box.prop(s, "mask_image")
            col = layout.column(align=True)
            col.prop(st, "camera")
            col.prop(st, "timing")
            row = col.row(align=True)
            row.prop(st, "reference_from", text="")
            row.operator("trackgo.scene_reference", icon="RENDER_STILL")
            layout.operator("trackgo.scene_preview", icon="HIDE_OFF")

    return (SceneSources,)


CLASSES = (TRACKGO_UL_motion_sources,) + _panel("IMAGE_EDITOR", "image") + _panel("SEQUENCE_EDITOR", "sequencer")
