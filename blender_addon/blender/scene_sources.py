"""The scene / tracker sources of ``scene.trackgo_scene`` as job tracks with explicit points.

Called by the job building (``inputs.snapshot``) beside the painted-mask tracks, and by the
local preview; bpy on the main thread only.
"""
from __future__ import annotations

import numpy as np

from ..io.job import MASK_THRESHOLD, TrackInput
from . import capture, scene_tracks, tracker_tracks


class SourceError(ValueError):
    """A scene or tracker source cannot be used; the message names it."""


def scene_camera(scene, settings):
    cam = settings.camera or scene.camera
    if cam is None:
        raise SourceError("Scene tracks: pick a camera (or set the scene camera)")
    return cam


def explicit_tracks(context, width: int, height: int, frames: int, fps: int | None = None) -> list:
    """Enabled sources → [SceneTrack] at the reference size (width x height), ``frames`` long."""
    scene = context.scene
    settings = getattr(scene, "trackgo_scene", None)
    if settings is None:
        return []
    enabled = [s for s in settings.sources if s.enabled]
    if not enabled:
        return []
    realtime = fps if settings.timing == "REALTIME" else None
    out = []
    objects = []
    for s in enabled:
        if s.kind == "OBJECT":
            if s.object is None:
                raise SourceError(f"track {s.name!r}: pick an object")
            objects.append((s, [scene_tracks.Source(s.object, s.bone or None)]))
        elif s.kind == "COLLECTION":
            if s.collection is None:
                raise SourceError(f"track {s.name!r}: pick a collection")
            found = scene_tracks.collection_sources(s.collection)
            if not found:
                raise SourceError(f"track {s.name!r}: collection {s.collection.name!r} has no mesh or empty")
            objects.append((s, found))
    if objects:
        cam = scene_camera(scene, settings)
        flat = [src for _, group in objects for src in group]
        made = scene_tracks.scene_tracks(scene, flat, cam, frames, width, height, fps=realtime)
        i = 0
        for s, group in objects:
            for track in made[i:i + len(group)]:
                track.name = s.name if len(group) == 1 else f"{s.name}/{track.name}"
                out.append(track)
            i += len(group)
    for s in enabled:
        if s.kind != "TRACKER":
            continue
        if s.clip is None or s.mask_image is None:
            raise SourceError(f"track {s.name!r}: pick the Movie Clip and the mask painted on its first frame")
        mask = capture.painted_mask(s.mask_image, width, height) >= MASK_THRESHOLD
        out.extend(tracker_tracks.tracker_tracks(s.clip, [(s.name, mask)], frames, width, height))
    return out


def job_tracks(context, width: int, height: int, frames: int, fps: int | None = None):
    """(TrackInput list, metadata list) for the job: masks and points as given (protocol 1.1)."""
    tracks, meta = [], []
    for t in explicit_tracks(context, width, height, frames, fps):
        mask = np.asarray(t.mask, bool)
        tracks.append(TrackInput(t.name, mask, None, points=t.points, visible=t.visible))
        meta.append({"name": t.name, "source": "points", "points": int(t.points.shape[0])})
    return tracks, meta


def plan_body(tracks, width: int, height: int, first_index: int = 0) -> dict:
    """A ``plan_result``-shaped body of local tracks, so the overlay draws them like the server's plan."""
    entries = []
    for j, t in enumerate(tracks):
        pos = np.asarray(t.points).transpose(1, 0, 2).round(3)        # (L, K, 2)
        entries.append({"track": first_index + j, "points": pos[0].tolist(), "positions": pos.tolist(),
                        "visible": np.asarray(t.visible).T.tolist()})
    frames = int(np.asarray(tracks[0].points).shape[1]) if tracks else 0
    return {"tracks": entries, "frames": frames, "width": int(width), "height": int(height)}
