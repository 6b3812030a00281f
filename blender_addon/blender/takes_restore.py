"""Put a take's masks, arrows and track list back into the scene, for editing.

Scene / tracker tracks come back with what drove them (objects, collection, clip by name) and
the camera, timing and reference source they shared.

Mask layers are rebuilt from the stored spline points (Mask splines can be built from Python
in every Blender line). Arrow strokes are written back into the same layer and stroke index of
the annotation or Grease Pencil object they were read from: points are added or removed to
match the stored count where Blender lets Python do it (4.2 legacy strokes, Grease Pencil v3
``resize_strokes`` / ``add_strokes``); an annotation stroke in 4.3+ whose point count changed
cannot be resized from Python, which is reported by name (redraw it, or its points are kept).
"""
from __future__ import annotations

import bpy

from . import compat


class RestoreError(ValueError):
    """A take's sources cannot be put back; the message says which and why."""


def _restore_masks(st, sources: dict) -> None:
    name = sources.get("mask", "")
    if not name:
        return
    mask = bpy.data.masks.get(name) or bpy.data.masks.new(name)
    for layer in list(mask.layers):
        mask.layers.remove(layer)
    for ld in sources.get("mask_layers", []):
        layer = mask.layers.new(name=ld["name"])
        layer.invert, layer.alpha, layer.falloff = ld["invert"], ld["alpha"], ld["falloff"]
        for sd in ld["splines"]:
            spline = layer.splines.new()
            spline.use_cyclic, spline.use_fill = sd["use_cyclic"], sd["use_fill"]
            spline.points.add(len(sd["points"]) - 1)
            for p, pd in zip(spline.points, sd["points"]):
                p.handle_left_type, p.handle_right_type = "FREE", "FREE"
                p.co, p.handle_left, p.handle_right = pd["co"], pd["handle_left"], pd["handle_right"]
                p.handle_left_type, p.handle_right_type = pd["handle_left_type"], pd["handle_right_type"]
                p.weight = pd["weight"]
    st.mask = mask


def _legacy_points(stroke, n: int):
    while len(stroke.points) > n:
        stroke.points.pop(index=len(stroke.points) - 1)
    if len(stroke.points) < n:
        stroke.points.add(n - len(stroke.points))
    return stroke.points


def _legacy_frame(layer):
    return layer.active_frame or (layer.frames[0] if len(layer.frames) else None)


def _restore_legacy(data, strokes: list, what: str) -> None:
    """4.x legacy GP / annotation layers (``info`` names them), and 5.0 annotations."""
    by_layer: dict[str, list] = {}
    for s in strokes:
        by_layer.setdefault(s["layer"], []).append(s)
    for layer in data.layers:
        stored = by_layer.get(layer.info, [])
        frame = _legacy_frame(layer)
        if frame is None:
            continue
        for s in stored:
            if s["index"] >= len(frame.strokes):
                if not hasattr(frame.strokes, "new"):
                    raise RestoreError(f"{what}: stroke {layer.info}:{s['index']} was deleted and Blender "
                                       f"{bpy.app.version_string} cannot add annotation strokes from Python; "
                                       f"draw it again (its points: {len(s['points'])})")
                frame.strokes.new()
            stroke = frame.strokes[s["index"]]
            try:
                points = _legacy_points(stroke, len(s["points"]))
            except (AttributeError, TypeError, RuntimeError) as exc:
                raise RestoreError(f"{what}: stroke {layer.info}:{s['index']} has {len(stroke.points)} points, "
                                   f"the take {len(s['points'])}, and it cannot be resized here ({exc})") from None
            for p, co in zip(points, s["points"]):
                p.co = co
        keep = {s["index"] for s in stored}
        if hasattr(frame.strokes, "remove"):
            for i in reversed(range(len(frame.strokes))):
                if i not in keep:
                    frame.strokes.remove(frame.strokes[i])


def _restore_v3(obj, strokes: list) -> None:
    by_layer: dict[str, list] = {}
    for s in strokes:
        by_layer.setdefault(s["layer"], []).append(s)
    for layer in obj.data.layers:
        frame = layer.current_frame() or (layer.frames[0] if len(layer.frames) else None)
        if frame is None or frame.drawing is None:
            continue
        drawing = frame.drawing
        stored = sorted(by_layer.get(layer.name, []), key=lambda s: s["index"])
        keep = {s["index"] for s in stored}
        extra = [i for i in range(len(drawing.strokes)) if i not in keep]
        if extra:
            drawing.remove_strokes(indices=extra)
        for s in stored:
            n = len(s["points"])
            if s["index"] >= len(drawing.strokes):
                drawing.add_strokes([n])
                stroke = drawing.strokes[len(drawing.strokes) - 1]
            else:
                if len(drawing.strokes[s["index"]].points) != n:
                    drawing.resize_strokes(sizes=[n], indices=[s["index"]])
                stroke = drawing.strokes[s["index"]]
            for p, co in zip(stroke.points, s["points"]):
                p.position = co


def _datablock(key: str, name: str, track: str):
    from .takes import DATABLOCK_FIELDS
    if not name:
        return None
    found = getattr(bpy.data, DATABLOCK_FIELDS[key]).get(name)
    if found is None:
        raise RestoreError(f"track {track!r}: {key} {name!r} is not in this file any more")
    return found


def _restore_tracks(st, tracks: list) -> None:
    from .takes import DATABLOCK_FIELDS
    found = [{k: (_datablock(k, v, td.get("name", "")) if k in DATABLOCK_FIELDS else v) for k, v in td.items()}
             for td in tracks]                   # every datablock looked up before the list changes
    st.tracks.clear()
    for td in found:
        t = st.tracks.add()
        for key, value in td.items():
            setattr(t, key, value)
    st.track_index = 0


def _restore_scene_settings(scene, stored: dict) -> None:
    """The camera, timing and reference source the scene / tracker tracks shared."""
    shared = scene.trackgo_scene
    if "camera" in stored:
        shared.camera = _datablock("object", stored["camera"], "(camera)") if stored["camera"] else None
    for key in ("timing", "reference_from"):
        if key in stored:
            setattr(shared, key, stored[key])


def restore(context, record) -> None:
    """Masks, arrows and tracks of ``record`` (an io.takes.TakeRecord) back into the scene."""
    st = context.scene.trackgo
    src = record.sources
    if not src:
        raise RestoreError("this take stores no masks or arrows (made before takes kept them)")
    _restore_masks(st, src)
    if src.get("annotation"):
        annotation = compat.annotation_datablocks().get(src["annotation"])
        if annotation is None:
            raise RestoreError(f"annotation {src['annotation']!r}: not in this file any more")
        _restore_legacy(annotation, src.get("annotation_strokes", []), f"annotation {annotation.name!r}")
        st.annotation = annotation
    if src.get("arrows_object"):
        obj = bpy.data.objects.get(src["arrows_object"])
        if obj is None:
            raise RestoreError(f"arrows object {src['arrows_object']!r}: not in this file any more")
        if obj.type == "GREASEPENCIL":
            _restore_v3(obj, src.get("object_strokes", []))
        else:
            _restore_legacy(obj.data, src.get("object_strokes", []), f"arrows object {obj.name!r}")
        st.arrows_object = obj
    _restore_tracks(st, src.get("tracks", []))
    _restore_scene_settings(context.scene, src.get("scene_sources", {}))
