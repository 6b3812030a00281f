"""Operators of the scene / tracker sources: add, remove, make the reference, preview points.

Generation itself is the usual Generate button: the job building takes these sources in
(``scene_sources.job_tracks``) beside the painted tracks.
"""
import bpy
import numpy as np
from bpy.props import EnumProperty

from . import overlay, scene_reference, scene_sources, session
from .operators import reports_errors
from .properties_scene import SOURCE_KINDS
from .scene_tracks import render_size       # errors here are ValueErrors: ``reports_errors`` reports them
from .tracker_tracks import clip_reference

REFERENCE_NAME = "TrackGo Scene Reference"


def _settings(context):
    return context.scene.trackgo_scene


class TRACKGO_OT_scene_source_add(bpy.types.Operator):
    """Add a track whose points come from the scene's animation or from tracker markers"""
    bl_idname = "trackgo.scene_source_add"
    bl_label = "Add Scene / Tracker Track"
    bl_options = {"REGISTER", "UNDO"}

    kind: EnumProperty(name="Source", items=SOURCE_KINDS, default="OBJECT")

    def execute(self, context):
        st = _settings(context)
        item = st.sources.add()
        item.kind = self.kind
        active = context.view_layer.objects.active if context.view_layer else None
        if self.kind == "OBJECT" and active is not None and active.type != "CAMERA":
            item.object = active
        if self.kind == "COLLECTION":
            item.collection = context.collection
        item.name = (item.object.name if item.object else item.collection.name if item.collection
                     else f"{self.kind.title()} {len(st.sources)}")
        st.source_index = len(st.sources) - 1
        return {"FINISHED"}


class TRACKGO_OT_scene_source_remove(bpy.types.Operator):
    """Remove the active scene / tracker track"""
    bl_idname = "trackgo.scene_source_remove"
    bl_label = "Remove Scene / Tracker Track"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        st = _settings(context)
        return 0 <= st.source_index < len(st.sources)

    def execute(self, context):
        st = _settings(context)
        st.sources.remove(st.source_index)
        st.source_index = max(0, min(st.source_index, len(st.sources) - 1))
        return {"FINISHED"}


def reference_pixels(context) -> np.ndarray:
    """The reference frame as (H, W, 3) uint8, from the source chosen in the panel."""
    scene, st = context.scene, _settings(context)
    if st.reference_from == "CLIP":
        clip = next((s.clip for s in st.sources if s.kind == "TRACKER" and s.clip), None)
        if clip is None:
            raise scene_sources.SourceError("Reference: add a Tracker Markers track with a clip first")
        return clip_reference(clip)
    cam = scene_sources.scene_camera(scene, st)
    width, height = render_size(scene)
    if st.reference_from == "PLATE":
        return scene_reference.plate_reference(cam, width, height)
    return scene_reference.render_reference(scene, cam, st.reference_from, frame=scene.frame_start)


class TRACKGO_OT_scene_reference(bpy.types.Operator):
    """Make the reference frame from the camera (render or plate) or the clip, and use it"""
    bl_idname = "trackgo.scene_reference"
    bl_label = "Make Reference"

    @reports_errors
    def execute(self, context):
        from ..demo_scene import image_from_rgba     # (imported here: demo_scene imports this package)

        rgb = reference_pixels(context)
        rgba = np.concatenate([rgb.astype(np.float32) / 255.0, np.ones(rgb.shape[:2] + (1,), np.float32)], axis=2)
        old = bpy.data.images.get(REFERENCE_NAME)
        if old is not None:
            bpy.data.images.remove(old)
        image = image_from_rgba(REFERENCE_NAME, rgba)
        context.scene.trackgo.reference = image
        self.report({"INFO"}, f"reference {image.size[0]}x{image.size[1]} from {_settings(context).reference_from}")
        return {"FINISHED"}


class TRACKGO_OT_scene_preview(bpy.types.Operator):
    """Compute the scene / tracker points here (no server needed) and draw them with their paths"""
    bl_idname = "trackgo.scene_preview"
    bl_label = "Preview Scene Points"

    @reports_errors
    def execute(self, context):
        st = context.scene.trackgo
        if st.reference is None:
            raise scene_sources.SourceError("Reference: make or pick the reference frame first")
        width, height = st.reference.size
        tracks = scene_sources.explicit_tracks(context, width, height, st.frames, st.fps)
        if not tracks:
            raise scene_sources.SourceError("Scene tracks: add and enable at least one scene or tracker track")
        painted = sum(1 for t in st.tracks if t.enabled)
        session.SESSION.plans[context.scene.name] = scene_sources.plan_body(tracks, width, height, painted)
        session.SESSION.plan_framing.pop(context.scene.name, None)  # in reference pixels, as drawn
        st.show_overlay = True
        overlay.enable()
        self.report({"INFO"}, ", ".join(f"{t.name}: {t.points.shape[0]} points" for t in tracks))
        return {"FINISHED"}


CLASSES = (TRACKGO_OT_scene_source_add, TRACKGO_OT_scene_source_remove, TRACKGO_OT_scene_reference,
           TRACKGO_OT_scene_preview)
