"""What the one track list shows of scene / tracker tracks, and their shared settings (camera,
timing, reference, point preview) in a sub-panel of "Motion Tracks" (Image Editor and Sequencer)."""
import bpy

from .panels import _Base
from .properties_scene import SOURCE_ICONS


def driver_label(track) -> tuple[str, str]:
    """(text, icon) a row of the list shows for a scene / tracker track: what drives it."""
    driver = {"OBJECT": track.object, "COLLECTION": track.collection, "TRACKER": track.clip}.get(track.source)
    text = driver.name if driver is not None else "—"
    if track.source == "OBJECT" and driver is not None and track.bone:
        text = f"{text}: {track.bone}"
    return text, SOURCE_ICONS[track.source]


def draw_track_source(layout, track) -> None:
    """The active track's own settings when scene objects or tracker markers drive it."""
    layout.prop(track, "source")
    if track.source == "OBJECT":
        layout.prop(track, "object")
        if track.object is not None and track.object.type == "ARMATURE":
            layout.prop_search(track, "bone", track.object.data, "bones")
    elif track.source == "COLLECTION":
        layout.prop(track, "collection")
    elif track.source == "TRACKER":
        layout.prop(track, "clip")
        layout.prop(track, "mask_image", text="Mask on First Frame")


def _panel(space: str, suffix: str):
    class SceneSources(_Base, bpy.types.Panel):
        bl_idname = f"TRACKGO_PT_scene_sources_{suffix}"
        bl_label = "Scene & Tracker"
        bl_space_type = space
        bl_parent_id = f"TRACKGO_PT_tracks_{suffix}"

        def draw(self, context):
            st = context.scene.trackgo_scene
            layout = self.layout
            col = layout.column(align=True)
            col.prop(st, "camera")
            col.prop(st, "timing")
            row = col.row(align=True)
            row.prop(st, "reference_from", text="")
            row.operator("trackgo.scene_reference", icon="RENDER_STILL")
            layout.operator("trackgo.scene_preview", icon="HIDE_OFF")

    return (SceneSources,)


CLASSES = _panel("IMAGE_EDITOR", "image") + _panel("SEQUENCE_EDITOR", "sequencer")
