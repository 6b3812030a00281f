"""The image strip that grows in the sequencer as frames arrive, and the job stored on it.

The strip starts at the reference frame's position, in the lowest channel that is free for the
whole expected length, with the first frame; each later frame appends an element. Job
parameters and the seed are kept as custom properties so Regenerate / New Seed can reuse them.
"""
from __future__ import annotations

import json
import os

from . import compat

MAX_CHANNEL = 128
PROP_JOB = "trackgo_job"
PROP_PARAMS = "trackgo_params"
PROP_PROGRESS = "trackgo_progress"   # while the job runs: the same text as the panel
PROP_SEED = "trackgo_seed"
PROP_STATE = "trackgo_state"
PROP_TRACKS = "trackgo_tracks"


def free_channel(scene, frame_start: int, length: int) -> int:
    """Lowest channel with no strip overlapping [frame_start, frame_start + length)."""
    se = scene.sequence_editor_create()
    busy = set()
    end = frame_start + max(1, length)
    for strip in compat.strips(se):
        if compat.strip_left(strip) < end and compat.strip_right(strip) > frame_start:
            busy.add(strip.channel)
    for channel in range(1, MAX_CHANNEL + 1):
        if channel not in busy:
            return channel
    raise RuntimeError("sequencer: every channel is taken at this frame range")


def create(scene, name: str, first_frame_path: str, frame_start: int, expected_length: int):
    """A new image strip showing the first frame, placed in a free channel."""
    se = scene.sequence_editor_create()
    channel = free_channel(scene, frame_start, expected_length)
    strip = compat.strips(se).new_image(name=name, filepath=first_frame_path,
                                        channel=channel, frame_start=frame_start)
    return strip


def fit_to_render(strip, scene, width: int, height: int, framing=None) -> None:
    """Scale like Blender's "Scale to Fit" (the strip is made before its file can be read).

    With the job's ``framing`` the strip lines up with the reference plate as the sequencer
    shows it (fitted to the render size): a cropped or padded output keeps the plate's scale,
    a stretched one is drawn back at the plate's shape."""
    if width <= 0 or height <= 0:
        return
    r = scene.render
    rw, rh = r.resolution_x, r.resolution_y
    if framing is None:
        strip.transform.scale_x = strip.transform.scale_y = min(rw / width, rh / height)
        return
    plate = min(rw / framing.ref_w, rh / framing.ref_h)   # the reference fitted to the render
    strip.transform.scale_x = plate / framing.sx
    strip.transform.scale_y = plate / framing.sy


def remove(scene, strip) -> None:
    compat.strips(scene.sequence_editor).remove(strip)


def append(strip, frame_path: str) -> None:
    """Grow the strip by one element (a file in the strip's folder)."""
    strip.elements.append(os.path.basename(frame_path))


def store_job(strip, job_id: str, params: dict, seed, tracks: list[dict], state: str) -> None:
    strip[PROP_JOB] = job_id
    strip[PROP_PARAMS] = json.dumps(params, sort_keys=True)
    strip[PROP_SEED] = "" if seed is None else str(int(seed))  # 63-bit seeds: ID ints are 32-bit
    strip[PROP_TRACKS] = json.dumps(tracks)
    strip[PROP_STATE] = state


def stored_params(strip) -> dict:
    """The job parameters kept on a strip (raises a readable error if it has none)."""
    if PROP_PARAMS not in strip:
        raise ValueError(f"strip {strip.name!r}: not a TrackGo strip (no stored job parameters)")
    params = json.loads(strip[PROP_PARAMS])
    seed = str(strip.get(PROP_SEED, ""))
    params["seed"] = int(seed) if seed.isdigit() else None
    return params


def find(scene, name: str):
    se = scene.sequence_editor
    if se is None:
        return None
    return compat.all_strips(se).get(name)


def scene_fps(scene) -> float:
    return scene.render.fps / (scene.render.fps_base or 1.0)


def fps_mismatch(scene, strip) -> tuple[int, float] | None:
    """(the job's fps, the scene's fps) when the strip would play at another speed than it was
    generated for (image strips show one element per scene frame), else None."""
    if strip is None or PROP_PARAMS not in strip:
        return None
    fps = json.loads(strip[PROP_PARAMS]).get("fps")
    if not isinstance(fps, (int, float)) or fps <= 0 or abs(scene_fps(scene) - fps) < 1e-3:
        return None
    return int(fps), scene_fps(scene)


def last_trackgo_strip(scene):
    """The active strip if it is a TrackGo take, else the take of the last job that ended."""
    se = scene.sequence_editor
    if se is None:
        return None
    active = se.active_strip
    if active is not None and PROP_PARAMS in active:
        return active
    name = getattr(getattr(scene, "trackgo", None), "last_strip", "")
    return find(scene, name) if name else None


def move_folder(strip, old_root: str, new_root: str) -> str | None:
    """Move a strip's frames from under ``old_root`` to the same place under ``new_root`` and
    point the strip there; returns the new folder (None when the strip is not under old_root)."""
    import shutil

    import bpy
    folder = os.path.realpath(bpy.path.abspath(strip.directory))
    old_root = os.path.realpath(old_root)
    if not folder.startswith(old_root + os.sep):
        return None
    target = os.path.join(new_root, os.path.relpath(folder, old_root))
    base, n = target, 2
    while os.path.exists(target):
        target = f"{base}_{n}"
        n += 1
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.move(folder, target)
    strip.directory = target + os.sep
    return target
