"""Scene properties: reference, captured sources, motion tracks, generation settings, status.

``scene.trackgo`` holds everything that is saved with the .blend. Runtime objects (socket,
running jobs) live in ``session`` instead, since they cannot be saved.
"""

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty,
                       FloatVectorProperty, IntProperty, PointerProperty, StringProperty)

from . import compat
from .properties_scene import TrackSourceFields

# Track colours: the same order as the server's trajectory palette (distinct hues).
# The job parameters the Settings panel offers, named as the protocol names them: the panel shows
# those the chosen backend honours (welcome.backends[].params), the job sends them all.
GENERATION_SETTINGS = ("frames", "fps", "motion_bucket_id", "num_inference_steps", "noise_aug_strength",
                       "min_guidance_scale", "max_guidance_scale", "tau", "alpha", "dual_clock_weak",
                       "dual_clock_strong", "background_follow")

PALETTE = [(0.90, 0.10, 0.10), (0.10, 0.70, 0.10), (0.15, 0.35, 0.95),
           (0.95, 0.80, 0.10), (0.85, 0.15, 0.85), (0.10, 0.80, 0.85)]

EASINGS = [("linear", "Linear", "Constant speed along the arrow"),
           ("ease-in", "Ease In", "Start slowly, end fast"),
           ("ease-out", "Ease Out", "Start fast, end slowly"),
           ("ease-in-out", "Ease In-Out", "Slow at both ends")]


def _redraw(self, context):
    for window in getattr(context.window_manager, "windows", []):
        for area in window.screen.areas:
            if area.type in {"IMAGE_EDITOR", "SEQUENCE_EDITOR"}:
                area.tag_redraw()


SIZE_MODES = [("AUTO", "From Reference", "The reference's shape, at the size the model works at, in "
                                           "multiples of 64 within the server's limits"),
              ("CUSTOM", "Custom", "The width and height given below")]
FIT_MODES = [("CROP", "Crop", "Fill the frame and cut what overflows (no distortion)"),
             ("PAD", "Pad", "Show the whole reference with bars around it (no distortion)"),
             ("STRETCH", "Stretch", "Scale each side on its own (distorts when the shapes differ)")]


def _custom_size(self, context):
    """Typing a width or height means choosing the size yourself."""
    if self.size_mode != "CUSTOM":
        self.size_mode = "CUSTOM"


def set_frames_max(max_frames: int) -> None:
    """The Frames field's maximum follows the connected server's ``max_frames``."""
    settings = TRACKGO_PG_settings
    prop = settings.bl_rna.properties.get("frames")
    if prop is not None and prop.hard_max == max_frames:
        return
    settings.frames = IntProperty(name="Frames", default=min(25, max_frames), min=2, max=max_frames,
                                  description=f"Frames to generate (this server makes at most {max_frames})")


class TRACKGO_PG_source(bpy.types.PropertyGroup):
    """One captured mask or arrow the tracks can point at (name is its key)."""
    label: StringProperty()
    tail_x: FloatProperty()
    tail_y: FloatProperty()
    points: StringProperty()     # JSON [[x, y], ...] reference pixels (arrows)


def _arrow_picked(self, context):
    """Keep a copy of the chosen arrow's points with the track: if its stroke is erased or
    edited later, the track says so instead of following another stroke."""
    settings = getattr(self.id_data, "trackgo", None)
    item = settings.arrows.get(self.arrow) if settings is not None and self.arrow else None
    points = item.points if item is not None else ""
    if self.arrow_points != points:
        self.arrow_points = points


class TRACKGO_PG_track(TrackSourceFields, bpy.types.PropertyGroup):
    """A motion track: this mask moves along that arrow, or (``source``) scene object(s) or
    tracker markers give its points."""
    enabled: BoolProperty(name="Enabled", default=True)
    mask_layer: StringProperty(name="Mask", description="Layer of the Mask datablock that selects what moves")
    mask_image: PointerProperty(type=bpy.types.Image, name="Painted Mask",
                                description="A painted mask image (white = moves); overrides the mask layer")
    arrow: StringProperty(name="Arrow", description="The stroke the mask follows (its start is the tail)",
                          update=_arrow_picked)
    arrow_points: StringProperty(name="Arrow Points", description="A copy of the arrow's points when it "
                                 "was paired (JSON, reference pixels)")
    color: FloatVectorProperty(name="Colour", subtype="COLOR", size=3, min=0.0, max=1.0, default=PALETTE[0])
    easing: EnumProperty(name="Easing", items=EASINGS, default="linear")
    manual: BoolProperty(name="Manual Pairing", default=False,
                         description="Keep this pairing when auto-pairing runs again")
    turn_along_arrow: BoolProperty(name="Turn Along Arrow", default=False,
                                   description="the painted part turns as the arrow curves")
    soft_edge: FloatProperty(name="Soft Edge", default=0.0, min=0.0, max=64.0, subtype="PIXEL",
                             description="feather the painted part's edge by this many pixels")


class TRACKGO_PG_settings(bpy.types.PropertyGroup):
    # Reference and sources
    reference: PointerProperty(type=bpy.types.Image, name="Reference",
                               description="The frame that comes alive (image open in the Image Editor, "
                                           "or a grabbed sequencer frame)")
    mask: PointerProperty(type=bpy.types.Mask, name="Mask", description="Mask datablock: one layer per moving part")
    annotation: PointerProperty(type=compat.annotation_type(), name="Annotation",
                                description="Annotation whose strokes are arrows (empty: the Image "
                                            "Editor's or the scene's annotation)")
    arrows_object: PointerProperty(type=bpy.types.Object, name="Arrows Object",
                                   description="Grease Pencil object whose strokes, seen through the "
                                               "scene camera, are arrows (3D previs)",
                                   poll=lambda self, obj: compat.is_grease_pencil_object(obj))
    masks: CollectionProperty(type=TRACKGO_PG_source)
    arrows: CollectionProperty(type=TRACKGO_PG_source)
    tracks: CollectionProperty(type=TRACKGO_PG_track)
    track_index: IntProperty(name="Active Track", default=0)

    # Generation settings (defaults follow shared_protocol.messages.DEFAULT_PARAMS)
    frames: IntProperty(name="Frames", default=25, min=2, max=256,
                        description="How many frames to make (the connected server sets the maximum)")
    fps: IntProperty(name="Frame Rate", default=7, min=1, max=60,
                     description="Frames per second the model is told the clip plays at (its pace of motion)")
    motion_bucket_id: IntProperty(name="Amount of Motion", default=127, min=0, max=255,
                                  description="How much the whole picture moves: higher is more motion "
                                              "(Stable Video Diffusion's motion bucket)")
    noise_aug_strength: FloatProperty(name="Freedom from Reference", default=0.02, min=0.0, max=1.0,
                                      description="How far the frames may drift from the reference picture: "
                                                  "0 stays closest (noise augmentation)")
    num_inference_steps: IntProperty(name="Quality", default=25, min=1, max=100,
                                     description="More steps make cleaner frames and take longer (denoising steps)")
    min_guidance_scale: FloatProperty(name="Follow Reference (first frames)", default=1.0, min=0.0, max=20.0,
                                      description="How strongly the first frames keep to the reference "
                                                  "(classifier-free guidance at the start)")
    max_guidance_scale: FloatProperty(name="Follow Reference (last frames)", default=3.0, min=0.0, max=20.0,
                                      description="How strongly the last frames keep to the reference "
                                                  "(classifier-free guidance at the end)")
    seed: IntProperty(name="Seed", default=0, min=0,
                      description="The same seed with the same settings gives the same take")
    random_seed: BoolProperty(name="Random Seed", default=True, description="A new take every time")
    tau: FloatProperty(name="Hold Unpainted Areas", default=0.0, min=-1e4, max=0.0,
                       description="0 lets the areas without a mask move freely; lower, down to -10000, "
                                   "holds them still (the paper's tau)")
    alpha: FloatProperty(name="Track Focus", default=0.2, min=0.001, max=0.999,
                         description="How tightly the motion keeps to the painted masks "
                                     "(attention threshold, the paper's alpha)")
    dual_clock_weak: FloatProperty(
        name="Background Start", default=0.32, min=0.0, max=0.99, subtype="FACTOR",
        description="Dual-clock: how free the background is. Lower lets the background move more; "
                    "too low can warp the scene or double objects, too high freezes it")
    dual_clock_strong: FloatProperty(
        name="Arrow Hold", default=0.42, min=0.01, max=1.0, subtype="FACTOR",
        description="Dual-clock: how strictly the painted parts follow the arrows. Higher holds them on "
                    "their paths longer; too low lets them drift, too high looks stiff. Keep above "
                    "Background Start")
    background_follow: FloatProperty(
        name="Background Drag", default=0.0, min=0.0, max=1.0, subtype="FACTOR",
        description="Preview: how far the surroundings are dragged along with the painted parts "
                    "(0 keeps the background still)")
    size_mode: EnumProperty(name="Output Size", default="AUTO", items=SIZE_MODES,
                            description="How the size of the generated frames is chosen")
    fit: EnumProperty(name="Fit", default="CROP", items=FIT_MODES,
                      description="How the reference fills the output frame when their shapes differ")
    width: IntProperty(name="Width", default=1024, min=64, max=4096, step=64, update=_custom_size,
                       description="Output width in pixels (a multiple of 64)")
    height: IntProperty(name="Height", default=576, min=64, max=4096, step=64, update=_custom_size,
                        description="Output height in pixels (a multiple of 64)")
    backend: StringProperty(name="Backend", default="", description="Empty: the server's default backend")

    # Status shown in the panels (written by the session)
    status: StringProperty(name="Status", default="Not connected")
    error: StringProperty(name="Error", default="")
    connected: BoolProperty(default=False)
    busy: BoolProperty(default=False)
    progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR", update=_redraw)
    progress_text: StringProperty(default="")
    last_strip: StringProperty(default="", description="The strip of the last job that ended")
    show_overlay: BoolProperty(name="Show Points", default=True, update=_redraw)


CLASSES = (TRACKGO_PG_source, TRACKGO_PG_track, TRACKGO_PG_settings)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.trackgo = PointerProperty(type=TRACKGO_PG_settings)


def unregister():
    del bpy.types.Scene.trackgo
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
