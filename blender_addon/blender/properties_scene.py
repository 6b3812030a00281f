"""What drives each motion track, and the settings the scene / tracker sources share (issue 14).

Every track lives in the one list ``scene.trackgo.tracks``; :class:`TrackSourceFields` (a mixin
of the track) says where its motion comes from: a painted mask + arrow, scene object(s) seen by
a camera, or Movie Clip tracker markers grouped by a painted mask (the track's ``mask_image``).
``scene.trackgo_scene`` keeps what those sources share (camera, timing, reference) and, for
files saved before the one list, their old separate list ``sources``, which :func:`migrate`
moves into the track list when such a file is opened.
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
TRACK_SOURCES = [
    ("PAINTED", "Painted Mask + Arrow", "A mask (layer or painted image) that moves along an arrow", "BRUSH_DATA", 3),
] + SOURCE_KINDS
SOURCE_ICONS = {item[0]: item[3] for item in TRACK_SOURCES}
TIMINGS = [
    ("FIT", "Fit Range", "Spread the scene's frame range over the generated frames", 0),
    ("REALTIME", "Real Time", "Sample the scene at the generation's FPS from the first frame", 1),
]


def _is_camera(_self, obj):
    return obj.type == "CAMERA"


class TrackSourceFields:
    """The source fields of a motion track (a mixin of ``properties.TRACKGO_PG_track``). The tracker
    source's mask is the track's own ``mask_image``, painted on the clip's first frame."""
    source: EnumProperty(name="Source", items=TRACK_SOURCES, default="PAINTED",
                         description="Where this track's motion comes from")
    object: PointerProperty(type=bpy.types.Object, name="Object",
                            description="The animated object (mesh, empty, or an armature with a bone)")
    bone: StringProperty(name="Bone", description="A bone of the armature object: one point")
    collection: PointerProperty(type=bpy.types.Collection, name="Collection",
                                description="Every mesh and empty in it becomes a track of its own")
    clip: PointerProperty(type=bpy.types.MovieClip, name="Clip",
                          description="The Movie Clip whose selected tracking markers give the motion")


class TRACKGO_PG_motion_source(bpy.types.PropertyGroup):
    """One scene or tracker track of the old separate list (files saved before the one track
    list; :func:`migrate` moves them into ``scene.trackgo.tracks``)."""
    enabled: BoolProperty(name="Enabled", default=True)
    kind: EnumProperty(name="Source", items=SOURCE_KINDS, default="OBJECT")
    object: PointerProperty(type=bpy.types.Object, name="Object")
    bone: StringProperty(name="Bone", description="A bone of the armature object: one point")
    collection: PointerProperty(type=bpy.types.Collection, name="Collection")
    clip: PointerProperty(type=bpy.types.MovieClip, name="Clip")
    mask_image: PointerProperty(type=bpy.types.Image, name="Mask",
                                description="Painted on the clip's first frame: white marks the part that moves")


class TRACKGO_PG_scene_settings(bpy.types.PropertyGroup):
    sources: CollectionProperty(type=TRACKGO_PG_motion_source)   # old files only: see migrate()
    source_index: IntProperty(name="Active Source", default=0)
    camera: PointerProperty(type=bpy.types.Object, name="Camera", poll=_is_camera,
                            description="The camera the scene is seen through (default: the scene camera)")
    reference_from: EnumProperty(name="Reference", items=REFERENCE_SOURCES, default="WORKBENCH")
    timing: EnumProperty(name="Timing", items=TIMINGS, default="FIT")


_MOVED = ("name", "enabled", "object", "bone", "collection", "clip", "mask_image")


def migrate(scene) -> int:
    """Move the old separate scene / tracker list of ``scene`` into its one track list (after the
    painted tracks, in order, each with the next palette colour). Returns how many moved."""
    old = getattr(scene, "trackgo_scene", None)
    st = getattr(scene, "trackgo", None)
    if old is None or st is None or not len(old.sources):
        return 0
    from .properties import PALETTE
    moved = 0
    for item in old.sources:
        track = st.tracks.add()
        for key in _MOVED:
            setattr(track, key, getattr(item, key))
        track.source = item.kind
        track.color = PALETTE[(len(st.tracks) - 1) % len(PALETTE)]
        moved += 1
    old.sources.clear()
    return moved


CLASSES = (TRACKGO_PG_motion_source, TRACKGO_PG_scene_settings)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.trackgo_scene = PointerProperty(type=TRACKGO_PG_scene_settings)


def unregister():
    del bpy.types.Scene.trackgo_scene
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
