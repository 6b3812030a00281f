"""Operators: connect, reference, sources, pairing, preview, generate, cancel, regenerate.

Each reports problems with ``self.report`` and in the panel (``settings.error``) as one
readable sentence; none of them waits on the network — replies arrive through the timer.
"""

import functools

import bpy
from bpy.props import BoolProperty

from ..io.job import JobInputError
from . import compat, inputs, overlay, sequencer_grab, session, strips
from .capture import CaptureError
from .properties import PALETTE

USER_ERRORS = (inputs.InputError, JobInputError, CaptureError, ConnectionError, ValueError, RuntimeError, OSError)


def reports_errors(execute):
    """Turn a user-facing failure into a report and a panel message instead of a traceback."""
    @functools.wraps(execute)
    def wrapper(self, context):
        try:
            return execute(self, context)
        except USER_ERRORS as exc:
            msg = str(exc) or type(exc).__name__
            context.scene.trackgo.error = msg
            self.report({"ERROR"}, msg)
            return {"CANCELLED"}
    return wrapper


class TRACKGO_OT_connect(bpy.types.Operator):
    """Connect to the TrackGo server (and start a local one if the preferences say so)"""
    bl_idname = "trackgo.connect"
    bl_label = "Connect"

    @reports_errors
    def execute(self, context):
        session.connect(context.scene.name, context)
        self.report({"INFO"}, context.scene.trackgo.status)
        return {"FINISHED"}


class TRACKGO_OT_disconnect(bpy.types.Operator):
    """Close the connection and stop a local server started by the add-on"""
    bl_idname = "trackgo.disconnect"
    bl_label = "Disconnect"

    def execute(self, context):
        session.disconnect(context.scene.name)
        return {"FINISHED"}


class TRACKGO_OT_use_editor_image(bpy.types.Operator):
    """Use the image shown in this Image Editor as the reference frame"""
    bl_idname = "trackgo.use_editor_image"
    bl_label = "Use Displayed Image"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        space = context.space_data
        return space is not None and space.type == "IMAGE_EDITOR" and space.image is not None

    def execute(self, context):
        context.scene.trackgo.reference = context.space_data.image
        return {"FINISHED"}


class TRACKGO_OT_grab_sequencer_frame(bpy.types.Operator):
    """Use the picture the sequencer shows at the playhead as the reference frame (an image or
    movie strip at its own size; other strips are rendered at the render size)"""
    bl_idname = "trackgo.grab_sequencer_frame"
    bl_label = "Grab Sequencer Frame"
    bl_options = {"REGISTER", "UNDO"}

    @reports_errors
    def execute(self, context):
        scene = context.scene
        img = sequencer_grab.grab(scene)
        scene.trackgo.reference = img
        self.report({"INFO"}, f"Reference: sequencer frame {scene.frame_current} ({img.size[0]}x{img.size[1]})")
        return {"FINISHED"}


class TRACKGO_OT_refresh_sources(bpy.types.Operator):
    """Re-read the mask layers and arrow strokes the tracks can use"""
    bl_idname = "trackgo.refresh_sources"
    bl_label = "Refresh Masks and Arrows"
    bl_options = {"REGISTER", "UNDO"}

    @reports_errors
    def execute(self, context):
        st = context.scene.trackgo
        inputs.refresh_sources(context, st)
        self.report({"INFO"}, f"{len(st.masks)} masks, {len(st.arrows)} arrows")
        return {"FINISHED"}


class TRACKGO_OT_auto_pair(bpy.types.Operator):
    """One track per mask layer, paired with the nearest arrow whose start lies inside it"""
    bl_idname = "trackgo.auto_pair"
    bl_label = "Auto-Pair"
    bl_options = {"REGISTER", "UNDO"}

    @reports_errors
    def execute(self, context):
        st = context.scene.trackgo
        n = inputs.auto_pair(context, st)
        unpaired = [t.name for t in st.tracks if not t.arrow]
        if unpaired:
            self.report({"WARNING"}, f"{n} tracks; no arrow for: {', '.join(unpaired)}")
        else:
            self.report({"INFO"}, f"{n} tracks paired")
        st.error = ""
        return {"FINISHED"}


class TRACKGO_OT_track_add(bpy.types.Operator):
    """Add a motion track to pair by hand"""
    bl_idname = "trackgo.track_add"
    bl_label = "Add Track"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        st = context.scene.trackgo
        t = st.tracks.add()
        t.name = f"Track {len(st.tracks)}"
        t.color = PALETTE[(len(st.tracks) - 1) % len(PALETTE)]
        t.manual = True
        st.track_index = len(st.tracks) - 1
        return {"FINISHED"}


class TRACKGO_OT_track_remove(bpy.types.Operator):
    """Remove the active motion track"""
    bl_idname = "trackgo.track_remove"
    bl_label = "Remove Track"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return len(context.scene.trackgo.tracks) > 0

    def execute(self, context):
        st = context.scene.trackgo
        st.tracks.remove(st.track_index)
        st.track_index = max(0, min(st.track_index, len(st.tracks) - 1))
        return {"FINISHED"}


def _prepare(context, kind: str, frame_start: int = 0, params=None, on_built=None) -> int:
    """Read the scene (main thread, short) and hand the job to the worker; returns the track count.
    A submitted job becomes a take of the shot when it is sent (``on_built``, default one take)."""
    st = context.scene.trackgo
    source = inputs.snapshot(context, st, params)
    if kind == "submit" and on_built is None:
        from . import takes  # take hook: the job as sent becomes a take of this shot
        on_built = takes.submit_when_built(context, frame_start)
    session.prepare(context.scene.name, source, kind, frame_start, on_built)
    return len(source.tracks)


def build_now(context, params=None):
    """The job Generate would send, built on the calling thread (scripts and tests; Generate
    hands the same steps to the worker): an ``io.prepare.PreparedJob``."""
    from ..io import prepare as io_prepare
    from .capture import image_pixels
    st = context.scene.trackgo
    source = inputs.snapshot(context, st, params)
    source.pixels = image_pixels(inputs.reference_image(st))[0]
    limits = session.SESSION.client.limits if session.SESSION.client is not None else None
    job = io_prepare.prepare(source, limits)
    session.apply_timing(context.scene, job, limits)
    return job


class TRACKGO_OT_preview_points(bpy.types.Operator):
    """Ask the server which points it will sample and show them with their paths"""
    bl_idname = "trackgo.preview_points"
    bl_label = "Preview Points"

    @reports_errors
    def execute(self, context):
        _prepare(context, "plan")
        context.scene.trackgo.show_overlay = True
        overlay.enable()
        return {"FINISHED"}


class TRACKGO_OT_generate(bpy.types.Operator):
    """Generate the shot: frames stream into a new sequencer strip as they arrive"""
    bl_idname = "trackgo.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    @reports_errors
    def execute(self, context):
        n = _prepare(context, "submit", context.scene.frame_current)
        self.report({"INFO"}, f"TrackGo job preparing ({n} tracks)")
        return {"FINISHED"}


class TRACKGO_OT_cancel(bpy.types.Operator):
    """Cancel the running job (frames already received stay)"""
    bl_idname = "trackgo.cancel"
    bl_label = "Cancel"

    @reports_errors
    def execute(self, context):
        n = session.cancel(context.scene.name)
        self.report({"INFO"} if n else {"WARNING"}, f"cancelling {n} job(s)" if n else "no job is running")
        return {"FINISHED"}


class TRACKGO_OT_regenerate(bpy.types.Operator):
    """Generate again with the parameters stored on the active TrackGo strip"""
    bl_idname = "trackgo.regenerate"
    bl_label = "Regenerate"
    bl_options = {"REGISTER", "UNDO"}

    new_seed: BoolProperty(name="New Seed", default=False,
                           description="Same parameters, a fresh random seed")

    @reports_errors
    def execute(self, context):
        se = context.scene.sequence_editor
        strip = se.active_strip if se is not None else None
        if strip is None:
            raise inputs.InputError("Regenerate: select a TrackGo strip in the sequencer first")
        params = strips.stored_params(strip)
        if self.new_seed:
            params["seed"] = None
        _prepare(context, "submit", int(compat.strip_content_start(strip)), params)
        self.report({"INFO"}, "TrackGo job submitted")
        return {"FINISHED"}


class TRACKGO_OT_match_scene_fps(bpy.types.Operator):
    """Set the scene's frame rate to the one the take was generated for, so it plays at its speed"""
    bl_idname = "trackgo.match_scene_fps"
    bl_label = "Set Scene FPS"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        scene = context.scene
        return strips.fps_mismatch(scene, strips.last_trackgo_strip(scene)) is not None

    def execute(self, context):
        scene = context.scene
        fps, _ = strips.fps_mismatch(scene, strips.last_trackgo_strip(scene))
        scene.render.fps, scene.render.fps_base = fps, 1.0
        self.report({"INFO"}, f"Scene frame rate: {fps} fps")
        return {"FINISHED"}


CLASSES = (TRACKGO_OT_match_scene_fps, TRACKGO_OT_connect, TRACKGO_OT_disconnect, TRACKGO_OT_use_editor_image,
           TRACKGO_OT_grab_sequencer_frame, TRACKGO_OT_refresh_sources, TRACKGO_OT_auto_pair,
           TRACKGO_OT_track_add, TRACKGO_OT_track_remove, TRACKGO_OT_preview_points,
           TRACKGO_OT_generate, TRACKGO_OT_cancel, TRACKGO_OT_regenerate)
