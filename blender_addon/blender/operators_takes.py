"""Operators on takes: regenerate exactly, restore masks and arrows, delete, generate N variants.

A take is re-sent from its stored record (the bytes sent the first time, seed included), never
rebuilt from the scene, so later edits of masks or arrows cannot change it.
"""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, IntProperty

from ..io import takes as io_takes
from . import takes, takes_restore
from .operators import _prepare, reports_errors


def _active_take(context):
    scene = context.scene
    if not len(scene.trackgo_takes):
        raise ValueError("Takes: this shot has no takes yet (Generate makes the first)")
    index = max(0, min(scene.trackgo_take_index, len(scene.trackgo_takes) - 1))
    return index, scene.trackgo_takes[index]


def _has_takes(context):
    return len(getattr(context.scene, "trackgo_takes", ())) > 0


class OnTake:
    """Mix-in: an operator on the chosen take; ``run(context, take)`` returns (level, message)."""

    @classmethod
    def poll(cls, context):
        return _has_takes(context)

    @reports_errors
    def execute(self, context):
        _, take = _active_take(context)
        level, message = self.run(context, take)
        self.report({level}, message)
        return {"FINISHED"}


class TRACKGO_OT_take_regenerate(OnTake, bpy.types.Operator):
    """Send this take's job again exactly as it was sent (same reference, masks, arrows, seed)"""
    bl_idname = "trackgo.take_regenerate"
    bl_label = "Regenerate This Take"

    def run(self, context, take):
        record = takes.record_of(take)
        body, payloads = record.job()
        names = [t.get("name") for t in body.get("tracks", [])]
        now = takes.server_info()
        new = takes.submit(context, body, payloads, names, record.tracks_meta, record.frame_start,
                           record=record, label=f"Take {takes.next_number(context.scene)} (again: {take.name})")
        before = record.server
        if (before.get("server"), before.get("models")) != (now.get("server"), now.get("models")):
            return "WARNING", (f"{new.name}: {take.name} was made by {before.get('server') or '?'} "
                               f"{before.get('models') or ''}; this server is {now.get('server') or '?'} "
                               f"{now.get('models') or ''}: the frames may differ")
        return "INFO", f"{new.name}: submitted with seed {new.seed}"


class TRACKGO_OT_take_restore(OnTake, bpy.types.Operator):
    """Put this take's masks, arrows and track pairing back into the scene for editing"""
    bl_idname = "trackgo.take_restore"
    bl_label = "Restore Masks and Arrows"

    def run(self, context, take):
        try:
            takes_restore.restore(context, takes.record_of(take))
        except (takes_restore.RestoreError, io_takes.TakeError) as exc:
            raise ValueError(f"{take.name}: {exc}") from None
        return "INFO", f"{take.name}: masks, arrows and tracks restored"


class TRACKGO_OT_take_extend(OnTake, bpy.types.Operator):
    """Continue this take: its last frame is the next reference, each track goes on along the rest
    of its arrow with its speed curve, and the new frames join the same strip"""
    bl_idname = "trackgo.take_extend"
    bl_label = "Extend This Take"

    def run(self, context, take):
        from . import takes_extend
        return "INFO", f"{takes_extend.extend(context, take).name}: submitted"


class TRACKGO_OT_take_delete(bpy.types.Operator):
    """Delete this take and its strip (and, if asked, its frame files)"""
    bl_idname = "trackgo.take_delete"
    bl_label = "Delete Take"

    delete_frames: BoolProperty(name="Delete Frame Files", default=False,
                                description="Also delete the take's PNG frames from disk")
    poll = classmethod(lambda cls, context: _has_takes(context))

    @reports_errors
    def execute(self, context):
        index, take = _active_take(context)
        name = take.name
        removed = takes.delete(context.scene, index, self.delete_frames)
        self.report({"INFO"}, f"{name} deleted" + (f" with {len(removed)} frame files" if self.delete_frames else ""))
        return {"FINISHED"}


class TRACKGO_OT_generate_variants(bpy.types.Operator):
    """Generate N takes of the same shot with N different seeds, stacked on channels, one visible"""
    bl_idname = "trackgo.generate_variants"
    bl_label = "Generate Variants"

    count: IntProperty(name="Variants", default=3, min=2, max=16)

    @reports_errors
    def execute(self, context):
        st = context.scene.trackgo
        first = None if st.random_seed else int(st.seed)
        frame = context.scene.frame_current
        on_built = takes.submit_when_built(context, frame, count=self.count, first_seed=first)
        _prepare(context, "submit", frame, on_built=on_built)
        self.report({"INFO"}, f"{self.count} variants preparing (one job built, sent with {self.count} seeds)")
        return {"FINISHED"}


CLASSES = (TRACKGO_OT_take_regenerate, TRACKGO_OT_take_restore, TRACKGO_OT_take_extend, TRACKGO_OT_take_delete,
           TRACKGO_OT_generate_variants)
