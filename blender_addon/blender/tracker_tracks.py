"""Explicit point tracks from Blender's own tracker: Movie Clip markers → motion for a new still.

The animator tracks features in the Movie Clip Editor as usual, selects the markers to use and
paints masks on the clip's reference frame (one mask per moving part). Each mask becomes one
track; its points are the selected markers that sit inside it at the reference frame. Marker
positions are read per output frame (the clip's range resampled to the job's frames, linear
between tracked frames); a frame where a marker is disabled or was never tracked is hidden.

Image sequences and movie files (through FFmpeg, where the Blender has it) both work.

Marker ``co`` is 0–1 over the frame with the origin at the bottom-left corner; the protocol's
pixels have y down and pixel centres at integers: ``x = co.x * W - 0.5``, ``y = (1 - co.y) * H - 0.5``.
"""
from __future__ import annotations

import numpy as np

from ..io import projection
from .scene_tracks import SceneTrack


class TrackerTrackError(ValueError):
    """Markers cannot become tracks; the message names the clip, the mask or the marker."""


def clip_range(clip) -> tuple[int, int]:
    """The clip's own frames (first, last), numbered as its markers are: from 1, wherever the clip
    starts in the scene (``frame_start`` only places it on the timeline)."""
    return 1, int(clip.frame_duration)


def selected_tracks(clip) -> list:
    """The active tracking object's selected tracks (Blender's selection in the Clip Editor)."""
    tracks = clip.tracking.objects.active.tracks if clip.tracking.objects.active else clip.tracking.tracks
    return [t for t in tracks if t.select]


def marker_path(track, frames: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions (L, 2) px, visible (L,)) of one track at fractional clip ``frames``.

    Between two enabled markers the position is linear; outside the tracked span, or next to a
    disabled marker, the point is hidden and holds its nearest known position.
    """
    known = sorted((m.frame, m.co[0], m.co[1]) for m in track.markers if not m.mute)
    if not known:
        raise TrackerTrackError(f"marker {track.name!r}: it has no enabled marker; track it first")
    muted = {m.frame for m in track.markers if m.mute}
    fr = np.array([k[0] for k in known], dtype=np.float64)
    px = np.array([[k[1] * width - 0.5, (1.0 - k[2]) * height - 0.5] for k in known])
    pos = np.stack([np.interp(frames, fr, px[:, 0]), np.interp(frames, fr, px[:, 1])], axis=1)
    lo, hi = np.floor(frames), np.ceil(frames)
    known_set = set(fr.tolist())
    visible = np.array([(a in known_set and b in known_set and a not in muted and b not in muted)
                        for a, b in zip(lo, hi)])
    return pos, visible


def tracker_tracks(clip, masks, frames: int, width: int | None = None, height: int | None = None,
                   frame_range: tuple | None = None, tracks=None) -> list[SceneTrack]:
    """One explicit point track per (name, mask) painted on the clip's reference frame.

    ``masks``: [(name, (H, W) bool)] at the reference size ``width`` x ``height`` (default the
    clip's size); ``frame_range``: clip frames (first = the reference frame), default the whole
    clip; ``tracks``: the tracking tracks to use (default: the selected ones).
    """
    check_clip(clip)
    cw, ch = int(clip.size[0]), int(clip.size[1])
    width, height = (width, height) if width and height else (cw, ch)
    tracks = selected_tracks(clip) if tracks is None else list(tracks)
    if not tracks:
        raise TrackerTrackError(f"clip {clip.name!r}: select the tracked markers to use in the Clip Editor")
    start, end = frame_range or clip_range(clip)
    times = projection.output_scene_frames(start, end, frames)
    paths = [(t.name, *marker_path(t, times, width, height)) for t in tracks]
    out = []
    for name, mask in masks:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (height, width):
            raise TrackerTrackError(f"mask {name!r}: expected {width}x{height} like the reference, got "
                                    f"{mask.shape[1] if mask.ndim == 2 else '?'}x{mask.shape[0]}")
        inside = []
        for marker, pos, vis in paths:
            col, row = int(np.rint(pos[0, 0])), int(np.rint(pos[0, 1]))
            if vis[0] and 0 <= col < width and 0 <= row < height and mask[row, col]:
                inside.append((pos, vis))
        if not inside:
            raise TrackerTrackError(f"mask {name!r}: no selected marker lies inside it at clip frame {start}")
        points = np.stack([p for p, _ in inside]).astype(np.float32)       # (K, L, 2)
        visible = np.stack([v for _, v in inside])
        out.append(SceneTrack(name, mask, projection.clamp_to_margin(points, width, height).astype(np.float32),
                              visible))
    return out


def check_clip(clip, ffmpeg: bool | None = None) -> None:
    """Say clearly when this Blender cannot read the clip's frames (a movie without FFmpeg;
    ``ffmpeg`` defaults to whether this Blender has it)."""
    import bpy

    ffmpeg = bpy.app.ffmpeg.supported if ffmpeg is None else ffmpeg
    if clip.source == "MOVIE" and not ffmpeg:
        raise TrackerTrackError(f"clip {clip.name!r}: this Blender ({bpy.app.version_string}) was built without "
                                "FFmpeg and cannot read movie files; save the movie as an image sequence "
                                "(PNG) and open that as the clip")
    if int(clip.size[0]) == 0 or int(clip.size[1]) == 0:
        raise TrackerTrackError(f"clip {clip.name!r}: no frames could be read ({clip.filepath})")


def clip_reference(clip, frame: int | None = None) -> np.ndarray:
    """The clip's own frame ``frame`` (default 1, its first) as (H, W, 3) uint8: the still to animate.

    Image sequences: the frame's file. Movie files: the first frame only, decoded by loading the
    movie as an image (a movie image's pixels are its first frame; the clip's own pixels have no
    Python API, and the sequencer decodes black frames once the tracker has read the movie).
    """
    import bpy

    from . import capture

    check_clip(clip)
    frame = 1 if frame is None else int(frame)          # clip frames, from 1 (see clip_range)
    if clip.source == "MOVIE":
        if frame != 1:
            raise TrackerTrackError(f"clip {clip.name!r}: only a movie's first frame can be read here, not frame "
                                    f"{frame}; the reference is the clip's first frame")
        path = bpy.path.abspath(clip.filepath)
    else:
        path = _sequence_file(bpy.path.abspath(clip.filepath), frame - 1)
    image = bpy.data.images.load(path, check_existing=False)
    try:
        return capture.reference_rgb(image)
    finally:
        bpy.data.images.remove(image)


def _sequence_file(first: str, offset: int) -> str:
    """The file ``offset`` frames after ``first`` in a numbered image sequence (name0001.png …)."""
    import os
    import re

    folder, name = os.path.split(first)
    match = re.search(r"(\d+)(\.[^.]+)$", name)
    if not match:
        raise TrackerTrackError(f"clip: {first!r} is not a numbered image sequence")
    digits = match.group(1)
    number = str(int(digits) + offset).zfill(len(digits))
    return os.path.join(folder, name[:match.start(1)] + number + match.group(2))
