"""Takes inside the .blend: one list per shot (scene), each take the whole job as it was sent.

Stored as a collection property on the Scene (``scene.trackgo_takes``), each item carrying
its :mod:`io.takes` record as a JSON string. A scene property rather than a Text datablock
because it belongs to the scene: it is saved with the .blend and travels with the scene when
the scene is appended or linked into another file (a Text datablock would be left behind
unless something pointed at it), and it does not clutter the Text Editor.

Strips are tagged with their take's ``uid`` (custom property ``trackgo_take``).
"""
from __future__ import annotations

import os
import secrets
import time

import bpy
from bpy.props import BoolProperty, CollectionProperty, IntProperty, StringProperty

from ..io import takes as io_takes
from . import compat, inputs

PROP_TAKE = "trackgo_take"
_BY_REQUEST: dict[str, tuple[str, str, bool]] = {}   # submit request id → (scene, take uid, visible)


def _on_choose(scene, context):
    show(scene, scene.trackgo_take_index)


class TRACKGO_PG_take(bpy.types.PropertyGroup):
    """One take of the shot (``name`` is the label shown in the list)."""
    uid: StringProperty()
    number: IntProperty(name="Number")
    seed: StringProperty(name="Seed", description="The job's seed (63-bit: kept as text)")
    backend: StringProperty(name="Backend")
    date: StringProperty(name="Date")
    note: StringProperty(name="Note", description="Your note on this take")
    favourite: BoolProperty(name="Favourite", default=False)
    state: StringProperty(name="State", default="submitted")
    frames: IntProperty(name="Frames Received")
    strip_name: StringProperty(name="Strip")
    record: StringProperty(description="The take's job as sent (io.takes JSON)")


CLASSES = (TRACKGO_PG_take,)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.trackgo_takes = CollectionProperty(type=TRACKGO_PG_take)
    bpy.types.Scene.trackgo_take_index = IntProperty(name="Take", default=0, update=_on_choose)


def unregister():
    del bpy.types.Scene.trackgo_take_index
    del bpy.types.Scene.trackgo_takes
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)


# ---- what a take keeps besides the job: the editable sources ---------------------------------
def _mask_sources(mask) -> list[dict]:
    layers = []
    for layer in (mask.layers if mask is not None else []):
        splines = []
        for spline in layer.splines:
            splines.append({"use_cyclic": spline.use_cyclic, "use_fill": spline.use_fill, "points": [
                {"co": list(p.co), "handle_left": list(p.handle_left), "handle_right": list(p.handle_right),
                 "handle_left_type": p.handle_left_type, "handle_right_type": p.handle_right_type,
                 "weight": p.weight} for p in spline.points]})
        layers.append({"name": layer.name, "invert": layer.invert, "alpha": layer.alpha,
                       "falloff": layer.falloff, "splines": splines})
    return layers


def _strokes(items) -> list[dict]:
    return [{"layer": layer, "index": i, "points": [list(p) for p in pts]} for layer, i, pts in items]


def capture_sources(context, st) -> dict:
    """Mask splines, arrow strokes and the track list exactly as they are now, with what drives
    each track (source, objects / collection / clip by name) and the shared camera and timing."""
    annotation = inputs.annotation_source(context, st)
    obj = st.arrows_object
    tracks = []
    for t in st.tracks:
        snap = inputs._snapshot(t)
        for key in DATABLOCK_FIELDS:          # datablocks by name (the mask image, what drives the track)
            snap[key] = snap[key].name if snap[key] is not None else ""
        snap["color"] = list(snap["color"])
        tracks.append(snap)
    shared = getattr(st.id_data, "trackgo_scene", None)      # st belongs to the scene (its id_data)
    return {"mask": st.mask.name if st.mask is not None else "",
            "mask_layers": _mask_sources(st.mask),
            "annotation": annotation.name if annotation is not None else "",
            "annotation_strokes": _strokes(compat.annotation_strokes(annotation)) if annotation is not None else [],
            "arrows_object": obj.name if obj is not None else "",
            "object_strokes": _strokes(compat.object_strokes(obj)) if obj is not None else [],
            "tracks": tracks, "scene_sources": _scene_settings(shared)}


# The track fields that point at datablocks, stored by name (takes_restore looks them up again).
DATABLOCK_FIELDS = {"mask_image": "images", "object": "objects", "collection": "collections", "clip": "movieclips"}


def _scene_settings(shared) -> dict:
    """What the scene / tracker tracks share: the camera they are seen through, the timing, the
    reference's source."""
    if shared is None:
        return {}
    return {"camera": shared.camera.name if shared.camera is not None else "", "timing": shared.timing,
            "reference_from": shared.reference_from}


def server_info() -> dict:
    from . import session
    client = session.SESSION.client
    welcome = dict(getattr(client, "welcome", {}) or {}) if client is not None else {}
    backends = {b.get("name"): b.get("description", "") for b in welcome.get("backends", [])}
    return {"server": welcome.get("server", ""), "protocol": welcome.get("protocol", []),
            "default_backend": welcome.get("default_backend") or "", "models": backends}


# ---- recording -------------------------------------------------------------------------------
def next_number(scene) -> int:
    return max((t.number for t in scene.trackgo_takes), default=0) + 1


def submit(context, body: dict, payloads: list, names: list, meta: list, frame_start: int,
           record: io_takes.TakeRecord | None = None, label: str = "", visible: bool = True,
           seed: int | None = None, scene=None, framing=None):
    """Fix the seed, send the job, and add it to the shot's take list. ``record`` (regenerate, or
    sources captured when Generate was pressed) keeps its sources instead of reading the scene's
    current ones; ``scene`` defaults to the context's."""
    from . import session
    scene = scene if scene is not None else context.scene
    io_takes.fix_seed(body, seed)
    if record is None:
        record = io_takes.TakeRecord(
            body=body, payloads=list(payloads), tracks_meta=list(meta), frame_start=int(frame_start),
            reference_source=_reference_source(scene), sources=capture_sources(context, scene.trackgo))
    else:
        record = io_takes.TakeRecord(body=body, payloads=list(payloads), reference_source=record.reference_source,
                                     sources=record.sources, tracks_meta=record.tracks_meta,
                                     server=record.server, frame_start=record.frame_start)
    record.server = {**server_info(), "backend": body["params"].get("backend") or ""}
    job = session.submit(scene.name, body, payloads, names, meta, frame_start, framing)
    take = scene.trackgo_takes.add()
    take.uid = secrets.token_hex(8)
    take.number = next_number(scene)
    take.name = label or f"Take {take.number}"
    take.seed = str(record.seed)
    take.backend = record.backend or record.server.get("default_backend", "")
    take.date = time.strftime("%Y-%m-%d %H:%M:%S")
    take.record = io_takes.to_text(record)
    _BY_REQUEST[job.request_id] = (scene.name, take.uid, visible)
    return take


def _reference_source(scene) -> dict:
    img = scene.trackgo.reference
    return {"image": img.name if img else "", "filepath": img.filepath if img else "",
            "frame": int(scene.frame_current)}


def submit_when_built(context, frame_start: int, count: int = 1, first_seed: int | None = None):
    """Generate's take hook. The masks, arrows and reference are recorded now, as the user pressed
    Generate (main thread); the job itself is built in the worker, so the returned callable,
    which ``session.prepare`` calls with the built job on the main thread, sends it and adds the
    take — or ``count`` takes with consecutive seeds from ``first_seed`` (None: the server's picks),
    stacked on channels with the first one visible."""
    scene_name, frame_start = context.scene.name, int(frame_start)
    reference_source = _reference_source(context.scene)
    sources = capture_sources(context, context.scene.trackgo)

    def send(job):
        scene = bpy.data.scenes.get(scene_name)
        if scene is None:
            raise ValueError(f"scene {scene_name!r} was removed before its job was sent")
        made = []
        for i in range(count):
            body = {**job.body, "params": dict(job.body["params"])}
            seed = None
            if count > 1:
                body["params"]["seed"] = None
                seed = None if first_seed is None else min(first_seed + i, io_takes.sp.messages.MAX_SEED)
            record = io_takes.TakeRecord(body=body, payloads=list(job.payloads), tracks_meta=list(job.meta),
                                         reference_source=reference_source, sources=sources,
                                         frame_start=frame_start)
            made.append(submit(None, body, job.payloads, job.track_names, job.meta, frame_start,
                               record=record, visible=(i == 0), seed=seed, scene=scene, framing=job.framing))
        return made

    return send


def find(scene, uid: str):
    return next((t for t in scene.trackgo_takes if t.uid == uid), None)


def on_strip(job, strip) -> None:
    """Hook (session, when a job's strip is made): tag the strip with its take."""
    scene_name, uid, visible = _BY_REQUEST.get(job.request_id, ("", "", True))
    scene = bpy.data.scenes.get(scene_name)
    take = find(scene, uid) if scene is not None else None
    if take is None:
        return
    strip[PROP_TAKE] = uid
    take.strip_name = strip.name
    strip.mute = not visible


def on_finish(job, state: str) -> None:
    """Hook (session, when a job ends): the take's state, frame count and final seed."""
    scene_name, uid, _ = _BY_REQUEST.pop(job.request_id, ("", "", True))
    scene = bpy.data.scenes.get(scene_name)
    take = find(scene, uid) if scene is not None else None
    if take is None:
        return
    take.state, take.frames = state, int(job.appended)
    if job.seed is not None:
        take.seed = str(int(job.seed))
    if state == "done":
        from . import takes_extend
        takes_extend.join_if_extension(scene, take)


def record_of(take) -> io_takes.TakeRecord:
    return io_takes.from_text(take.record)


# ---- choosing, deleting -----------------------------------------------------------------------
def strip_of(scene, take):
    se = scene.sequence_editor
    if se is None or not take.strip_name:
        return None
    def shows(s):   # its own strip, or the strip an extension's frames joined
        return s.get(PROP_TAKE) == take.uid or take.uid in str(s.get("trackgo_parts", "")).split(",")

    strip = compat.all_strips(se).get(take.strip_name)
    if strip is None or not shows(strip):   # renamed: look the tag up
        strip = next((s for s in compat.all_strips(se) if shows(s)), None)
    return strip


def show(scene, index: int) -> None:
    """Show the chosen take's strip and mute every other take's strip."""
    if not 0 <= index < len(scene.trackgo_takes):
        return
    shown = strip_of(scene, scene.trackgo_takes[index])
    for take in scene.trackgo_takes:
        strip = strip_of(scene, take)
        if strip is not None:
            strip.mute = shown is None or strip.name != shown.name
    if shown is not None:
        scene.sequence_editor.active_strip = shown


def delete(scene, index: int, delete_frames: bool = False) -> list[str]:
    """Remove the take and its strip; with ``delete_frames`` its PNG files too (returns them)."""
    take = scene.trackgo_takes[index]
    removed = []
    strip = strip_of(scene, take)
    if strip is not None and strip.get(PROP_TAKE) != take.uid:
        strip = None   # an extension: its frames belong to the strip it joined, which stays
    if strip is not None:
        if delete_frames:
            folder = bpy.path.abspath(strip.directory)
            for element in strip.elements:
                path = os.path.join(folder, element.filename)
                if os.path.isfile(path):
                    os.unlink(path)
                    removed.append(path)
            if os.path.isdir(folder) and not os.listdir(folder):
                os.rmdir(folder)
        compat.strips(scene.sequence_editor).remove(strip)
    scene.trackgo_takes.remove(index)
    scene.trackgo_take_index = max(0, min(scene.trackgo_take_index, len(scene.trackgo_takes) - 1))
    return removed
