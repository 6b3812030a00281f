"""The scene / tracker tracks of the one track list as job tracks with explicit points.

A track of ``scene.trackgo.tracks`` whose ``source`` is OBJECT, COLLECTION or TRACKER gets its
points here; the shared settings (camera, timing) are ``scene.trackgo_scene``'s. Called by the
job building (``inputs.snapshot``, in list order with the painted tracks) and by the local
preview; bpy on the main thread only.
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


def is_point_source(track) -> bool:
    """Whether a track of the one list gets explicit points (scene objects, tracker markers)."""
    return getattr(track, "source", "PAINTED") != "PAINTED"


def expanded_count(track) -> int:
    """How many job tracks one list track becomes (a collection: one per mesh or empty in it)."""
    if getattr(track, "source", "PAINTED") == "COLLECTION" and track.collection is not None:
        return max(1, len(scene_tracks.collection_sources(track.collection)))
    return 1


def list_tracks(context, items, width: int, height: int, frames: int, fps: int | None = None) -> list:
    """[[SceneTrack, ...] per item] for scene / tracker tracks of the one track list, in order.

    All scene objects are projected together (one pass over the frames, occlusion between them);
    an item's name names its tracks (a collection's: ``name/object``).
    """
    scene = context.scene
    settings = scene.trackgo_scene
    realtime = fps if settings.timing == "REALTIME" else None
    out: list[list] = [[] for _ in items]
    objects = []                  # (index, item, [scene_tracks.Source])
    for i, s in enumerate(items):
        if s.source == "OBJECT":
            if s.object is None:
                raise SourceError(f"track {s.name!r}: pick an object")
            objects.append((i, s, [scene_tracks.Source(s.object, s.bone or None)]))
        elif s.source == "COLLECTION":
            if s.collection is None:
                raise SourceError(f"track {s.name!r}: pick a collection")
            found = scene_tracks.collection_sources(s.collection)
            if not found:
                raise SourceError(f"track {s.name!r}: collection {s.collection.name!r} has no mesh or empty")
            objects.append((i, s, found))
        elif s.source == "TRACKER":
            if s.clip is None or s.mask_image is None:
                raise SourceError(f"track {s.name!r}: pick the Movie Clip and the mask painted on its first frame")
            tracker_tracks.check_clip(s.clip)
            mask = capture.painted_mask(s.mask_image, width, height) >= MASK_THRESHOLD
            out[i] = tracker_tracks.tracker_tracks(s.clip, [(s.name, mask)], frames, width, height)
    if objects:
        cam = scene_camera(scene, settings)
        flat = [src for _, _, group in objects for src in group]
        made = scene_tracks.scene_tracks(scene, flat, cam, frames, width, height, fps=realtime)
        k = 0
        for i, s, group in objects:
            for track in made[k:k + len(group)]:
                track.name = s.name if len(group) == 1 else f"{s.name}/{track.name}"
                out[i].append(track)
            k += len(group)
    return out


def explicit_tracks_indexed(context, width: int, height: int, frames: int, fps: int | None = None):
    """([SceneTrack], [job track index]) of the list's enabled scene / tracker tracks at the
    reference size (width x height), ``frames`` long, in list order; the index is where each
    stands among the job's tracks (painted ones included), which picks its colour."""
    st = getattr(context.scene, "trackgo", None)
    enabled = [t for t in (st.tracks if st is not None else []) if t.enabled]
    items = [t for t in enabled if is_point_source(t)]
    made = list_tracks(context, items, width, height, frames, fps)
    tracks, indices, index, k = [], [], 0, 0
    for t in enabled:
        if not is_point_source(t):
            index += 1
            continue
        group, k = made[k], k + 1
        tracks += group
        indices += range(index, index + len(group))
        index += len(group)
    return tracks, indices


def explicit_tracks(context, width: int, height: int, frames: int, fps: int | None = None) -> list:
    """Enabled scene / tracker tracks of the list → [SceneTrack], in list order."""
    return explicit_tracks_indexed(context, width, height, frames, fps)[0]


def job_colors(settings) -> list[tuple]:
    """The colour of each job track (enabled list tracks, a collection's once per object)."""
    return [tuple(t.color) for t in settings.tracks if t.enabled for _ in range(expanded_count(t))]


def job_inputs(tracks) -> tuple[list, list]:
    """(TrackInput list, metadata list) of made SceneTracks: masks and points as given (protocol 1.1)."""
    inputs, meta = [], []
    for t in tracks:
        inputs.append(TrackInput(t.name, np.asarray(t.mask, bool), None, points=t.points, visible=t.visible))
        meta.append({"name": t.name, "source": "points", "points": int(t.points.shape[0])})
    return inputs, meta


def job_tracks(context, width: int, height: int, frames: int, fps: int | None = None):
    """(TrackInput list, metadata list) of every enabled scene / tracker track of the list."""
    return job_inputs(explicit_tracks(context, width, height, frames, fps))


def plan_body(tracks, width: int, height: int, indices=None) -> dict:
    """A ``plan_result``-shaped body of local tracks, so the overlay draws them like the server's
    plan; ``indices``: each track's index among the job's tracks (default 0, 1, ...)."""
    entries = []
    indices = list(range(len(tracks))) if indices is None else list(indices)
    for j, t in enumerate(tracks):
        pos = np.asarray(t.points).transpose(1, 0, 2).round(3)        # (L, K, 2)
        entries.append({"track": indices[j], "points": pos[0].tolist(), "positions": pos.tolist(),
                        "visible": np.asarray(t.visible).T.tolist()})
    frames = int(np.asarray(tracks[0].points).shape[1]) if tracks else 0
    return {"tracks": entries, "frames": frames, "width": int(width), "height": int(height)}
