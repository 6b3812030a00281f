"""Extend this take: its last frame becomes the next job's reference, each track continues
along the rest of its arrow with its speed curve carried over, and the new frames join the same
strip without repeating the shared frame.

The next part is a take of its own (its record regenerates that part); when its job ends its
frames (all but the first, which is the previous part's last) are moved into the first part's
folder and appended to its strip, and the part's own strip is removed.
"""
from __future__ import annotations

import os

import bpy
import numpy as np

from ..io import extend as io_extend
from ..io import takes as io_takes
from ..io.job import check
from ..protocol import sp
from . import capture, compat, takes, timing

PROP_PARTS = "trackgo_parts"        # on a joined strip: uids of the takes that extended it
_JOINS: dict[str, str] = {}         # extension take uid → the take whose strip it joins


def _last_frame(scene, strip) -> np.ndarray:
    path = os.path.join(bpy.path.abspath(strip.directory), strip.elements[len(strip.elements) - 1].filename)
    img = bpy.data.images.load(path, check_existing=False)
    try:
        return capture.reference_rgb(img)
    finally:
        bpy.data.images.remove(img)


def _mask_of(record, track: dict) -> np.ndarray:
    m = track["mask"]
    if m.get("kind") != "bitmap" or m.get("format") != "raw":
        raise ValueError(f"track {track.get('name')!r}: only raw bitmap masks can be extended")
    data = record.payloads[m["payload"]]
    return np.frombuffer(data, np.uint8).reshape(m["height"], m["width"])


def extension_job(context, take):
    """(body, payloads, record, joined strip) of the part after ``take``."""
    scene = context.scene
    record = takes.record_of(take)
    strip = takes.strip_of(scene, take)
    if strip is None:
        raise ValueError(f"{take.name}: its strip is gone, there is no last frame to continue from")
    if take.state != "done":
        raise ValueError(f"{take.name}: only a finished take can be extended (it is {take.state})")
    params = dict(record.body["params"])
    frames, out_size = int(params["frames"]), (int(params["width"]), int(params["height"]))
    ref = record.body["reference"]
    ref_size = (int(ref["width"]), int(ref["height"]))
    last = _last_frame(scene, strip)
    if (last.shape[1], last.shape[0]) != out_size:
        raise ValueError(f"{take.name}: its last frame is {last.shape[1]}x{last.shape[0]}, expected {out_size}")
    ext = record.sources.get("extend", {})
    offset = len(strip.elements) - 1              # shot frames the joined strip already shows, less one
    u_starts = ext.get("u_start", {})
    by_name = {t.name: i for i, t in enumerate(scene.trackgo.tracks)}
    items, u_next = [], {}
    for jt in record.body["tracks"]:
        name = jt.get("name") or ""
        if not isinstance(jt.get("arrow"), dict):        # explicit points (scene / tracker tracks)
            raise ValueError(f"{take.name}: track {name!r} follows points from the scene or the tracker, which "
                             "cannot be extended from a frame yet; make the longer shot from the scene "
                             "(more frames) instead")
        progress = jt.get("progress")
        u_end = float(progress[-1]) if progress else 1.0
        fc_index = by_name.get(name)
        curve = None
        if fc_index is not None and timing.fcurve(scene, fc_index) is not None:
            fc = timing.fcurve(scene, fc_index)
            curve = [min(1.0, max(0.0, fc.evaluate(float(offset + 1 + i)))) for i in range(frames)]
        arrow, rel, u_next[name], _ = io_extend.next_part(jt["arrow"]["points"], u_end, float(u_starts.get(name, 0.0)),
                                                          curve, frames)
        shift = io_extend.arc_point(jt["arrow"]["points"], u_end) - np.asarray(jt["arrow"]["points"][0], float)
        mask = io_extend.moved_mask(_mask_of(record, jt), shift, out_size)
        if not mask.any():
            continue                              # the region has left the frame: nothing to move
        arrow_out = io_extend.scale_points(arrow, ref_size, out_size)
        items.append(sp.track(sp.raw_image(mask.tobytes(), *out_size, 1), arrow_out.round(3).tolist(),
                              easing=jt.get("easing", "linear"), name=name or None, progress=rel))
    if not items:
        raise ValueError(f"{take.name}: every masked region has left the frame, nothing to continue")
    image = sp.raw_image(np.ascontiguousarray(last).tobytes(), out_size[0], out_size[1], 3)
    body, payloads = sp.job_body(image, items, params)
    check(body, payloads)
    base_uid = ext.get("base", take.uid)
    new_record = io_takes.TakeRecord(
        body=body, payloads=payloads, sources={**record.sources, "extend": {
            "base": base_uid, "offset": offset, "u_start": u_next, "of": take.uid}},
        reference_source={"take": take.name, "frame": offset + 1}, tracks_meta=record.tracks_meta,
        frame_start=record.frame_start + offset)
    return body, payloads, new_record


def extend(context, take):
    body, payloads, record = extension_job(context, take)
    names = [t.get("name") for t in body["tracks"]]
    new = takes.submit(context, body, payloads, names, record.tracks_meta, record.frame_start, record=record,
                       label=f"Take {takes.next_number(context.scene)} (extends {take.name})", visible=False)
    _JOINS[new.uid] = record.sources["extend"]["base"]
    return new


def join_if_extension(scene, take) -> None:
    """Hook (takes.on_finish): move an extension's frames into the strip it continues."""
    base_uid = _JOINS.pop(take.uid, None)
    if base_uid is None:
        return
    base_take = takes.find(scene, base_uid)
    base = takes.strip_of(scene, base_take) if base_take is not None else None
    part = takes.strip_of(scene, take)
    if base is None or part is None:
        return
    base_dir, part_dir = bpy.path.abspath(base.directory), bpy.path.abspath(part.directory)
    names = [e.filename for e in part.elements]
    n = len(base.elements)
    for k, name in enumerate(names[1:]):           # the first is the previous part's last frame
        target = f"{n + 1 + k:04d}.png"
        os.replace(os.path.join(part_dir, name), os.path.join(base_dir, target))
        base.elements.append(target)
    if names and os.path.isfile(os.path.join(part_dir, names[0])):
        os.unlink(os.path.join(part_dir, names[0]))
    compat.strips(scene.sequence_editor).remove(part)
    if os.path.isdir(part_dir) and not os.listdir(part_dir):
        os.rmdir(part_dir)
    base[PROP_PARTS] = ",".join(filter(None, [base.get(PROP_PARTS, ""), take.uid]))
    take.strip_name = base.name
