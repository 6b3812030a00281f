"""Everything that differs between Blender 4.2 LTS, 4.5 LTS, 5.0, 5.1, 5.2 LTS and 5.3, in one place.

* ``sequence_editor.sequences`` became ``strips`` (4.4); the old name is gone in 5.0.
* A strip's timing: ``frame_start`` / ``frame_final_start`` / ``frame_final_end`` /
  ``frame_final_duration`` became ``content_start`` / ``left_handle`` / ``right_handle`` /
  ``duration`` (5.1 on have both, and warn that the old names go in 6.0); the new names are used
  wherever the Blender has them.
* Annotations are legacy ``GreasePencil`` data in 4.x and their own ``Annotation`` ID in 5.0
  (``bpy.data.annotations``, ``space.annotation``, ``scene.annotation``).
* Grease Pencil v3 exists from 4.3: ``GreasePencilv3`` / ``bpy.data.grease_pencils_v3`` in
  4.3–4.5, ``GreasePencil`` / ``bpy.data.grease_pencils`` in 5.0; its points have ``.position``.
  4.2's Grease Pencil objects are the legacy kind (points ``.co``).
"""
from __future__ import annotations

import bpy

VERSION = bpy.app.version
HAS_ANNOTATION_ID = hasattr(bpy.types, "Annotation")
HAS_GP_V3 = VERSION >= (4, 3, 0)


_STRIP_TYPE = getattr(bpy.types, "Strip", None) or bpy.types.Sequence  # "Sequence" before 4.4
HAS_STRIP_HANDLES = "left_handle" in _STRIP_TYPE.bl_rna.properties


def strip_content_start(strip) -> float:
    """Timeline frame where the strip's first image sits (before any trim)."""
    return strip.content_start if HAS_STRIP_HANDLES else strip.frame_start


def strip_left(strip) -> int:
    """First timeline frame the strip shows."""
    return strip.left_handle if HAS_STRIP_HANDLES else strip.frame_final_start


def strip_right(strip) -> int:
    """First timeline frame after the strip (exclusive end)."""
    return strip.right_handle if HAS_STRIP_HANDLES else strip.frame_final_end


def strip_duration(strip) -> int:
    """Frames the strip shows, from its left to its right handle."""
    return strip.duration if HAS_STRIP_HANDLES else strip.frame_final_duration


def strips(sequence_editor):
    """The top-level strip collection (``strips`` from 4.4, ``sequences`` before)."""
    coll = getattr(sequence_editor, "strips", None)
    return coll if coll is not None else sequence_editor.sequences


def all_strips(sequence_editor):
    """Every strip, including those inside meta strips."""
    coll = getattr(sequence_editor, "strips_all", None)
    return coll if coll is not None else sequence_editor.sequences_all


def annotation_type():
    """The RNA type of annotation data (for PointerProperty)."""
    return bpy.types.Annotation if HAS_ANNOTATION_ID else bpy.types.GreasePencil


def annotation_datablocks():
    return bpy.data.annotations if HAS_ANNOTATION_ID else bpy.data.grease_pencils


def new_annotation(name: str):
    return annotation_datablocks().new(name)


def space_annotation(space):
    """The annotation data an Image Editor / Sequencer space draws, or None."""
    if space is None:
        return None
    return getattr(space, "annotation", None) if HAS_ANNOTATION_ID else getattr(space, "grease_pencil", None)


def scene_annotation(scene):
    return getattr(scene, "annotation", None) if HAS_ANNOTATION_ID else getattr(scene, "grease_pencil", None)


def annotation_strokes(annotation):
    """(layer name, stroke index, [(x, y, z), ...]) for the visible strokes of each layer's
    active frame, in stroke order."""
    if annotation is None:
        return
    for layer in annotation.layers:
        # The eye toggle is ``annotation_hide`` (4.5 and 5.0 have no ``hide`` on annotation layers).
        if getattr(layer, "annotation_hide", getattr(layer, "hide", False)):
            continue
        frame = layer.active_frame or (layer.frames[0] if len(layer.frames) else None)
        if frame is None:
            continue
        for i, stroke in enumerate(frame.strokes):
            yield layer.info, i, [tuple(p.co) for p in stroke.points]


def gp_v3_datablocks():
    if not HAS_GP_V3:
        return None
    return bpy.data.grease_pencils if VERSION >= (5, 0, 0) else bpy.data.grease_pencils_v3


def is_grease_pencil_object(obj) -> bool:
    return obj is not None and obj.type in {"GREASEPENCIL", "GPENCIL"}


def object_strokes(obj):
    """(layer name, stroke index, [(x, y, z) local]) of a Grease Pencil object's current frame
    (v3 ``drawing.strokes`` with ``.position``; 4.2 legacy ``strokes`` with ``.co``)."""
    data = obj.data
    for layer in data.layers:
        if getattr(layer, "hide", False):
            continue
        if obj.type == "GREASEPENCIL":
            frame = layer.current_frame() or (layer.frames[0] if len(layer.frames) else None)
            if frame is None or frame.drawing is None:
                continue
            for i, stroke in enumerate(frame.drawing.strokes):
                yield layer.name, i, [tuple(p.position) for p in stroke.points]
        else:
            frame = layer.active_frame or (layer.frames[0] if len(layer.frames) else None)
            if frame is None:
                continue
            for i, stroke in enumerate(frame.strokes):
                yield layer.info, i, [tuple(p.co) for p in stroke.points]
