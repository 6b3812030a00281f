"""Settings of the two motion sources that give explicit point tracks (issue 14).

``scene.trackgo_scene`` holds them beside the painted-mask tracks (``scene.trackgo.tracks``):
scene objects / a collection seen by a camera, and Movie Clip tracker markers grouped by a
painted mask. Kept in their own property group so the painted-track settings stay as they are.
"""
import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, IntProperty, PointerProperty, StringProperty

SOURCE_KINDS = [
    ("OBJECT", "Scene Object", "An animated object (mesh, empty) or one bone, seen by the camera", "OBJECT_DATA", 0),
    ("COLLECTION", "Collection", "Every mesh and empty of a collection, one track each", "OUTLINER_COLLECTION", 1),
    ("TRACKER", "Tracker Markers", "Selected markers of a Movie Clip inside a mask painted on its first frame",
     "TRACKER", 2),
]
REFERENCE_SOURCES = [
    ("WORKBENCH", "Workbench Render", "Render the camera's view with Workbench (fast, flat shading)", 0),
    ("EEVEE", "EEVEE Render", "Render the camera's view with EEVEE (lit; slow without a GPU)", 1),
    ("PLATE", "Camera Plate", "The camera's background image, fitted to the camera frame", 2),
    ("CLIP", "Clip Frame", "The Movie Clip's first frame (for tracker markers)", 3),
]
TIMINGS = [
    ("FIT", "Fit Range", "Spread the scene's frame range over the generated frames", 0),
    ("REALTIME", "Real Time", "Sample the scene at the generation's FPS from the first frame", 1),
]


def _is_camera(_self, obj):
    return obj.type == "CAMERA"


class TRACKGO_PG_motion_source(bpy.types.PropertyGroup):
    """One scene or tracker track (name = the track's name in messages)."""
    enabled: BoolProperty(name="Enabled", default=True)
    kind: EnumProperty(name="Source", items=SOURCE_KINDS, default="OBJECT")
    object: PointerProperty(type=bpy.types.Object, name="Object")
    bone: StringProperty(name="Bone", description="A bone of the armature object: one point")
    collection: PointerProperty(type=bpy.types.Collection, name="Collection")
    clip: PointerProperty(type=bpy.types.MovieClip, name="Clip")
    mask_image: PointerProperty(type=bpy.types.Image, name="Mask",
                                description="Painted on the clip's first frame: white marks the part that moves")


class TRACKGO_PG_scene_settings(bpy.types.PropertyGroup):
    sources: CollectionProperty(type=TRACKGO_PG_motion_source)
    source_index: IntProperty(name="Active Source", default=0)
    camera: PointerProperty(type=bpy.types.Object, name="Camera", poll=_is_camera,
                            description="The camera the scene is seen through (default: the scene camera)")
    reference_from: EnumProperty(name="Reference", items=REFERENCE_SOURCES, default="WORKBENCH")
    timing: EnumProperty(name="Timing", items=TIMINGS, default="FIT")


CLASSES = (TRACKGO_PG_motion_source, TRACKGO_PG_scene_settings)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.trackgo_scene = PointerProperty(type=TRACKGO_PG_scene_settings)


def unregister():
    del bpy.types.Scene.trackgo_scene
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
