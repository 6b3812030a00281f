"""Operators of the scene / tracker sources: add a track of any source, make the reference, preview points.

Generation itself is the usual Generate button: the job building takes these sources in
(``inputs.snapshot``) in the one track list's order; Remove Track removes any kind.
"""
import bpy
import numpy as np
from bpy.props import EnumProperty

from . import overlay, scene_reference, scene_sources, session
from .operators import reports_errors
from .properties import PALETTE
from .properties_scene import TRACK_SOURCES
from .scene_tracks import render_size       # errors here are ValueErrors: ``reports_errors`` reports them
from .tracker_tracks import clip_reference

REFERENCE_NAME = "TrackGo Scene Reference"


def _settings(context):
    return context.scene.trackgo_scene


def _open_clip(context):
    """The clip of an open Clip Editor, else the file's only clip, else None."""
    for window in getattr(context.window_manager, "windows", ()) or ():
        for area in window.screen.areas:
            if area.type == "CLIP_EDITOR" and area.spaces.active.clip is not None:
                return area.spaces.active.clip
    clips = list(bpy.data.movieclips)
    return clips[0] if len(clips) == 1 else None


class TRACKGO_OT_scene_source_add(bpy.types.Operator):
    """Add a motion track to the list: painted mask + arrow, scene object(s) or tracker markers"""
    bl_idname = "trackgo.scene_source_add"
    bl_label = "Add Track"
    bl_options = {"REGISTER", "UNDO"}

    kind: EnumProperty(name="Source", items=TRACK_SOURCES, default="OBJECT")

    def execute(self, context):
        if self.kind == "PAINTED":
            return bpy.ops.trackgo.track_add()
        st = context.scene.trackgo
        item = st.tracks.add()
        item.source = self.kind
        item.color = PALETTE[(len(st.tracks) - 1) % len(PALETTE)]
        active = context.view_layer.objects.active if context.view_layer else None
        if self.kind == "OBJECT" and active is not None and active.type != "CAMERA":
            item.object = active
        elif self.kind == "COLLECTION" and context.collection not in (None, context.scene.collection):
            item.collection = context.collection     # (the scene's own collection cannot be pointed at)
        elif self.kind == "TRACKER":
            item.clip = _open_clip(context)
        driver = item.object or item.collection or item.clip
        item.name = driver.name if driver is not None else f"{self.kind.title()} {len(st.tracks)}"
        st.track_index = len(st.tracks) - 1
        return {"FINISHED"}


def reference_pixels(context) -> np.ndarray:
    """The reference frame as (H, W, 3) uint8, from the source chosen in the panel."""
    scene, st = context.scene, _settings(context)
    if st.reference_from == "CLIP":
        clip = next((t.clip for t in scene.trackgo.tracks if t.source == "TRACKER" and t.clip), None)
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
        tracks, indices = scene_sources.explicit_tracks_indexed(context, width, height, st.frames, st.fps)
        if not tracks:
            raise scene_sources.SourceError("Scene tracks: add and enable at least one scene or tracker track")
        session.SESSION.plans[context.scene.name] = scene_sources.plan_body(tracks, width, height, indices)
        session.SESSION.plan_framing.pop(context.scene.name, None)  # in reference pixels, as drawn
        st.show_overlay = True
        overlay.enable()
        self.report({"INFO"}, ", ".join(f"{t.name}: {t.points.shape[0]} points" for t in tracks))
        return {"FINISHED"}


CLASSES = (TRACKGO_OT_scene_source_add, TRACKGO_OT_scene_reference,
           TRACKGO_OT_scene_preview)
