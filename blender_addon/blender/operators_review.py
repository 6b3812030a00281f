"""Operators: compare the chosen take with the plate, use it as Movie Clip or camera background."""
from __future__ import annotations

import bpy
from bpy.props import EnumProperty, FloatProperty

from . import review
from .operators_takes import OnTake


class TRACKGO_OT_take_compare(OnTake, bpy.types.Operator):
    """Show the chosen take's frame at the playhead over the reference (onion skin or A/B wipe)"""
    bl_idname = "trackgo.take_compare"
    bl_label = "Compare With Plate"
    bl_options = {"REGISTER", "UNDO"}

    mode: EnumProperty(name="Mode", items=[("ONION", "Onion Skin", "The take over the plate, see-through"),
                                           ("WIPE", "A/B Wipe", "The take left of the split, the plate right")],
                       default="ONION")
    amount: FloatProperty(name="Opacity / Split", default=0.5, min=0.0, max=1.0, subtype="FACTOR")

    def run(self, context, take):
        img = review.compare(context, take, self.mode, self.amount)
        return "INFO", f"{take.name} vs plate: image {img.name!r}"


class TRACKGO_OT_take_movie_clip(OnTake, bpy.types.Operator):
    """Load the chosen take's frames as a Movie Clip"""
    bl_idname = "trackgo.take_movie_clip"
    bl_label = "Use as Movie Clip"

    def run(self, context, take):
        return "INFO", f"Movie Clip {review.movie_clip(context.scene, take).name!r}"


class TRACKGO_OT_take_camera_background(OnTake, bpy.types.Operator):
    """Show the chosen take behind the scene camera in the 3D viewport"""
    bl_idname = "trackgo.take_camera_background"
    bl_label = "Use as Camera Background"

    def run(self, context, take):
        return "INFO", f"camera background: {review.camera_background(context.scene, take).clip.name!r}"


CLASSES = (TRACKGO_OT_take_compare, TRACKGO_OT_take_movie_clip, TRACKGO_OT_take_camera_background)
