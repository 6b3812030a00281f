"""Per-track timing in Blender: a speed curve keyframed in the Graph Editor, sent per frame.

Each motion track gets ``timing`` (a property group added to the track type at register time,
so the track's own module stays as it is): ``progress``, the share of its arrow covered (0 → 1),
is what the animator keys — its F-curve, sampled at output frames 1…N, becomes the track's
``progress`` array (protocol 1.1). A track without keys on it keeps its easing (a 1.0 job).
The easing presets write a curve between the track's start and end frame: Linear, Quadratic
ease in / out (t², 1 − (1 − t)², exactly the server's easings) and a Bezier with flat third-length
handles (exactly smoothstep, the server's ease-in-out). Holds are keys with equal values.
"""
from __future__ import annotations

import bpy
from bpy.props import FloatProperty, IntProperty, PointerProperty

from ..io import timing as io_timing
from .properties import TRACKGO_PG_track

PRESETS = [("linear", "Linear", "Constant speed from start to end frame"),
           ("ease-in", "Ease In", "Start slowly, end fast"),
           ("ease-out", "Ease Out", "Start fast, end slowly"),
           ("ease-in-out", "Ease In-Out", "Slow at both ends")]


class TRACKGO_PG_timing(bpy.types.PropertyGroup):
    """A track's timing: the keyed progress curve and the frames a preset spans."""
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR",
                            description="Share of the arrow covered at this output frame: key it (I) at "
                                        "frames 1…N and shape the curve in the Graph Editor")
    start_frame: IntProperty(name="Start Frame", default=1, min=1,
                             description="Output frame where the track starts moving (presets)")
    end_frame: IntProperty(name="End Frame", default=0, min=0,
                           description="Shot frame where the track arrives (0: this job's last frame; later frames "
                                       "are reached by extending the take)")


CLASSES = (TRACKGO_PG_timing,)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    TRACKGO_PG_track.timing = PointerProperty(type=TRACKGO_PG_timing)


def unregister():
    del TRACKGO_PG_track.timing
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)


def data_path(index: int) -> str:
    return f"trackgo.tracks[{index}].timing.progress"


def _fcurves(scene):
    ad = scene.animation_data
    if ad is None or ad.action is None:
        return []
    action = ad.action
    if hasattr(action, "fcurves"):       # 4.2–4.5 (the legacy API reads the first slot)
        return action.fcurves
    from bpy_extras import anim_utils   # 5.0: layered actions, F-curves live in a channelbag
    bag = anim_utils.action_get_channelbag_for_slot(action, ad.action_slot)
    return bag.fcurves if bag is not None else []


def fcurve(scene, index: int):
    path = data_path(index)
    return next((fc for fc in _fcurves(scene) if fc.data_path == path), None)


def track_progress(scene, index: int, frames: int) -> list[float] | None:
    """The track's progress array (one value per output frame), or None when it has no curve."""
    fc = fcurve(scene, index)
    if fc is None or not len(fc.keyframe_points):
        return None
    return io_timing.sample_progress(fc.evaluate, frames, scene.trackgo.tracks[index].name)


def apply_to_job(scene, body: dict) -> int:
    """Add ``progress`` to each job track whose scene track has a curve (enabled tracks, in
    order, as the job was built). Returns how many tracks got one."""
    frames = int(body.get("params", {}).get("frames", scene.trackgo.frames))
    enabled = [i for i, t in enumerate(scene.trackgo.tracks) if t.enabled]
    n = 0
    for job_track, index in zip(body.get("tracks", []), enabled):
        progress = track_progress(scene, index, frames)
        if progress is not None:
            job_track["progress"] = progress
            n += 1
    if n:
        _check_server_reads_timing()
    return n


def _check_server_reads_timing() -> None:
    """A 1.0 server would ignore the curves silently and use the easings: say so instead."""
    from . import session
    client = session.SESSION.client
    version = (getattr(client, "welcome", None) or {}).get("protocol") if client is not None else None
    if version and tuple(version)[:2] < (1, 1):
        raise ValueError(f"timing curves need a server speaking protocol 1.1; this one speaks "
                         f"{version[0]}.{version[1]} and would ignore them: update the server, or clear the "
                         f"curves to use the easings")


def apply_preset(scene, index: int, preset: str, frames: int) -> None:
    """Replace the track's curve with a preset from its start to its end frame."""
    track = scene.trackgo.tracks[index]
    t = track.timing
    start = min(max(1, t.start_frame), frames)
    end = frames if t.end_frame == 0 else t.end_frame   # beyond this job: the shot goes on in extensions
    if end <= start:
        raise ValueError(f"track {track.name!r}: the end frame must come after the start frame "
                         f"(start {start}, end {end}, {frames} frames)")
    fc = fcurve(scene, index)
    if fc is not None:
        for kp in reversed(list(fc.keyframe_points)):
            fc.keyframe_points.remove(kp)
    for frame, value in ((start, 0.0), (end, 1.0)):
        t.progress = value
        t.keyframe_insert("progress", frame=frame)
    fc = fcurve(scene, index)
    a, b = fc.keyframe_points[0], fc.keyframe_points[1]
    third = (end - start) / 3.0
    if preset == "linear":
        a.interpolation = "LINEAR"
    elif preset in ("ease-in", "ease-out"):
        a.interpolation, a.easing = "QUAD", "EASE_IN" if preset == "ease-in" else "EASE_OUT"
    elif preset == "ease-in-out":
        a.interpolation = "BEZIER"
        a.handle_right_type = b.handle_left_type = "FREE"
        a.handle_right = (start + third, 0.0)
        b.handle_left = (end - third, 1.0)
    else:
        raise ValueError(f"timing preset: expected one of {[p[0] for p in PRESETS]}, got {preset!r}")
    fc.extrapolation = "CONSTANT"       # 0 before the start frame, 1 after the end frame
    fc.update()


def clear(scene, index: int) -> None:
    fc = fcurve(scene, index)
    if fc is not None:
        for kp in reversed(list(fc.keyframe_points)):
            fc.keyframe_points.remove(kp)
