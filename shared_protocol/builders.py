"""Builders for every message, so neither side assembles header or body maps by hand.

Client side: `png_image` / `raw_image` / `polygon_mask` + `track` -> `make_submit`.
Server side: `make_welcome`, `make_accepted`, `make_progress`, `make_frame`, `make_done`, ...
Stream messages take the job id and the job's next `seq` (0 for `accepted`).
"""

import sys
import time
from array import array
from dataclasses import dataclass

from . import messages as m
from .errors import ProtocolError
from .images import ImageError, read_png_info
from .limits import Limits
from .messages import DEFAULT_PARAMS, Message, new_id
from .version import PROTOCOL_VERSION


@dataclass(frozen=True)
class ImagePayload:
    """Image bytes plus what the receiver needs to read them (becomes one payload frame)."""

    format: str        # "png" | "raw"
    data: bytes
    width: int
    height: int
    channels: int      # raw: bytes per pixel (reference 3 or 4, mask 1)


@dataclass(frozen=True)
class TrackInput:
    """One track before payload indices are assigned: mask (image or polygons), arrow, timing."""

    mask: object       # ImagePayload (bitmap) or list of polygons [[[x, y], ...], ...]
    arrow: list | None
    easing: str = m.DEFAULT_EASING
    name: str | None = None
    points: "PointTrackPayload | None" = None   # explicit point tracks instead of the arrow (1.1)
    progress: list | None = None   # 1.1: per-frame share of the arrow covered (overrides easing)
    rotate: bool = False           # 1.1: the region turns with the arrow (sent only when on)
    edge_softness: float = 0.0     # 1.1: soft edge width in reference px (sent only when > 0)


@dataclass(frozen=True)
class PointTrackPayload:
    """Explicit trajectories: `count` x `frames` x 2 little-endian float32 and optional visibility."""

    data: bytes
    count: int
    frames: int
    visible: bytes | None = None


def png_image(data: bytes) -> ImagePayload:
    """A PNG payload; width/height/channels read from its IHDR. Raises ProtocolError if not a PNG."""
    try:
        info = read_png_info(data)
    except ImageError as exc:
        raise ProtocolError("invalid_field", str(exc), "png") from None
    return ImagePayload("png", bytes(data), info.width, info.height, info.channels)


def raw_image(data: bytes, width: int, height: int, channels: int) -> ImagePayload:
    """A raw uint8 payload, row-major, top row first (reference: 3 or 4 channels; mask: 1)."""
    return ImagePayload("raw", bytes(data), int(width), int(height), int(channels))


def track(mask, arrow, easing: str = m.DEFAULT_EASING, name: str | None = None,
          progress=None, rotate: bool = False, edge_softness: float = 0.0) -> TrackInput:
    """A track: `mask` is an ImagePayload (nonzero = inside) or polygons [[[x, y], ...], ...];
    `arrow` is [[x, y], ...] in reference pixels, tail first; `progress` (1.1) one value in
    [0, 1] per frame; `rotate` / `edge_softness` (1.1) turn the region along a curved arrow and
    feather its edge by that many pixels (left out of the body at their defaults)."""
    return TrackInput(mask=mask, arrow=[[float(x), float(y)] for x, y in arrow], easing=easing, name=name,
                      progress=None if progress is None else [float(u) for u in progress],
                      rotate=bool(rotate), edge_softness=float(edge_softness))


def point_track(mask, positions, visible=None, name: str | None = None) -> TrackInput:
    """A track whose points move as given (protocol 1.1) instead of along an arrow.

    `positions`: N points x L frames x (x, y) in reference pixels — a numpy array or nested
    sequences; `visible`: N x L truthy values (hidden behind something / behind the camera = 0) or
    None for all visible. L must equal the job's `frames`.
    """
    if hasattr(positions, "shape") and hasattr(positions, "astype"):
        if positions.ndim != 3 or positions.shape[2] != 2:
            raise ProtocolError("invalid_field", f"expected N x L x 2 positions, got shape {positions.shape}",
                                "points")
        count, frames = int(positions.shape[0]), int(positions.shape[1])
        data = positions.astype("<f4").tobytes()
    else:
        rows = [[[float(x), float(y)] for x, y in point] for point in positions]
        count, frames = len(rows), len(rows[0]) if rows else 0
        if any(len(point) != frames for point in rows):
            raise ProtocolError("invalid_field", "expected the same number of frames for every point", "points")
        flat = array("f", (c for point in rows for xy in point for c in xy))
        if sys.byteorder != "little":
            flat.byteswap()
        data = flat.tobytes()
    vis = None
    if visible is not None:
        if hasattr(visible, "astype"):
            vis = (visible != 0).astype("u1").tobytes()
        else:
            vis = bytes(1 if v else 0 for point in visible for v in point)
    return TrackInput(mask=mask, arrow=None, name=name, points=PointTrackPayload(data, count, frames, vis))


def job_body(reference: ImagePayload, tracks, params: dict | None = None) -> tuple[dict, list[bytes]]:
    """The job map and its payload frames: reference is payload 0, bitmap masks follow in track order."""
    payloads = [reference.data]
    ref = {"payload": 0, "format": reference.format, "width": reference.width, "height": reference.height}
    if reference.format == "raw":
        ref["channels"] = reference.channels
    track_bodies = []
    for item in tracks:
        if isinstance(item.mask, ImagePayload):
            mask = {"kind": "bitmap", "payload": len(payloads), "format": item.mask.format,
                    "width": item.mask.width, "height": item.mask.height}
            payloads.append(item.mask.data)
        else:
            mask = {"kind": "polygons",
                    "polygons": [[[float(x), float(y)] for x, y in polygon] for polygon in item.mask]}
        if item.points is not None:
            body = {"mask": mask, "points": {"payload": len(payloads), "format": "f32", "count": item.points.count,
                                             "frames": item.points.frames}}
            if item.points.visible is not None:
                body["points"]["visible"] = item.points.visible
            payloads.append(item.points.data)
        else:
            body = {"mask": mask, "arrow": {"points": item.arrow}, "easing": item.easing}
        if item.name is not None:
            body["name"] = item.name
        if item.progress is not None:
            body["progress"] = list(item.progress)
        if item.rotate:
            body["rotate"] = True
        if item.edge_softness:
            body["edge_softness"] = float(item.edge_softness)
        track_bodies.append(body)
    return {"reference": ref, "tracks": track_bodies, "params": dict(params or {})}, payloads


# ---- client -> server -------------------------------------------------------------------------

def make_hello(client: str) -> Message:
    return Message(m.HELLO, body={"client": client, "protocol": list(PROTOCOL_VERSION)})


def make_submit(reference: ImagePayload, tracks, params: dict | None = None) -> Message:
    """A `submit` with payload frames; `params` may hold any subset of DEFAULT_PARAMS."""
    body, payloads = job_body(reference, tracks, params)
    return Message(m.SUBMIT, body=body, payloads=payloads)


def make_plan(reference: ImagePayload, tracks, params: dict | None = None) -> Message:
    """A `plan`: same body as submit; the server answers with the points it would use."""
    body, payloads = job_body(reference, tracks, params)
    return Message(m.PLAN, body=body, payloads=payloads)


def make_cancel(job: str) -> Message:
    return Message(m.CANCEL, job=job)


def make_status() -> Message:
    return Message(m.STATUS)


def make_ping(t: float | None = None) -> Message:
    return Message(m.PING, body={"t": time.time() if t is None else float(t)})


def make_pong(ping: Message) -> Message:
    """Answer a ping with the sender's clock echoed back."""
    return Message(m.PONG, re=ping.id, body={"t": ping.body.get("t", 0.0)})


# ---- server -> client ---------------------------------------------------------------------------

def backend_info(name: str, ready: bool, description: str = "", default: bool = False,
                 params=None) -> dict:
    """One entry of `welcome.backends`. `params` (1.1): the job parameter names this backend
    honours (the others it ignores); None lists every parameter. A 1.0 server sends no `params`,
    which a client reads as "all"."""
    names = list(DEFAULT_PARAMS) if params is None else [str(name) for name in params]
    return {"name": name, "ready": bool(ready), "description": description, "default": bool(default),
            "params": names}


def make_welcome(re: str | None, server: str, backends: list[dict], default_backend: str | None,
                 limits: Limits, heartbeat_interval_s: float, defaults: dict | None = None) -> Message:
    return Message(m.WELCOME, re=re, body={
        "server": server, "protocol": list(PROTOCOL_VERSION), "backends": list(backends),
        "default_backend": default_backend, "limits": limits.to_body(),
        "heartbeat_interval_s": float(heartbeat_interval_s),
        "defaults": dict(DEFAULT_PARAMS if defaults is None else defaults),
    })


def make_accepted(re: str, job: str, queue_position: int) -> Message:
    """First message of a job's stream (seq 0)."""
    return Message(m.ACCEPTED, re=re, job=job, seq=0, body={"queue_position": int(queue_position)})


def make_rejected(re: str | None, error: ProtocolError) -> Message:
    return Message(m.REJECTED, re=re, body={"error": error.to_body()})


def make_progress(job: str, seq: int, stage: str, step: int, total: int, eta_s: float | None = None,
                  queue_position: int | None = None) -> Message:
    body = {"stage": stage, "step": int(step), "total": int(total),
            "eta_s": None if eta_s is None else float(eta_s)}
    if queue_position is not None:
        body["queue_position"] = int(queue_position)
    return Message(m.PROGRESS, job=job, seq=seq, body=body)


def make_frame(job: str, seq: int, index: int, total: int, png: bytes, width: int, height: int) -> Message:
    return Message(m.FRAME, job=job, seq=seq, payloads=[png],
                   body={"index": int(index), "total": int(total), "format": "png",
                         "width": int(width), "height": int(height)})


def make_done(job: str, seq: int, timings: dict, seed: int, params: dict, frames: int) -> Message:
    return Message(m.DONE, job=job, seq=seq, body={
        "timings": {str(k): float(v) for k, v in timings.items()}, "seed": int(seed),
        "params": dict(params), "frames": int(frames)})


def make_error(error: ProtocolError, re: str | None = None, job: str | None = None,
               seq: int | None = None) -> Message:
    """An `error`: ends a job's stream (job + seq) or answers a request (re)."""
    return Message(m.ERROR, re=re, job=job, seq=seq, body=error.to_body())


def make_cancelled(job: str, seq: int, frames_sent: int, re: str | None = None) -> Message:
    return Message(m.CANCELLED, re=re, job=job, seq=seq, body={"frames_sent": int(frames_sent)})


def make_status_reply(re: str | None, jobs: list[dict], queue_length: int, busy: bool) -> Message:
    """`jobs`: [{"job": id, "state": "queued"|"running", "queue_position": int}, ...]."""
    return Message(m.STATUS_REPLY, re=re, body={"jobs": list(jobs), "queue_length": int(queue_length),
                                                 "busy": bool(busy)})


def make_plan_result(re: str | None, tracks: list[dict], frames: int, width: int, height: int,
                     output_width: int | None = None, output_height: int | None = None,
                     seed: int | None = None) -> Message:
    """`tracks`: [{"track": i, "points": [[x, y], ...], "positions": [[[x, y], ...] per frame]}, ...]
    in reference pixels; `width`/`height` the reference size, `output_*` the generated size."""
    body = {"tracks": list(tracks), "frames": int(frames), "width": int(width), "height": int(height)}
    for name, value in (("output_width", output_width), ("output_height", output_height), ("seed", seed)):
        if value is not None:
            body[name] = int(value)
    return Message(m.PLAN_RESULT, re=re, body=body)


__all__ = [
    "ImagePayload", "TrackInput", "PointTrackPayload", "png_image", "raw_image", "track", "point_track", "job_body", "make_hello", "make_submit",
    "make_plan", "make_cancel", "make_status", "make_ping", "make_pong", "backend_info", "make_welcome",
    "make_accepted", "make_rejected", "make_progress", "make_frame", "make_done", "make_error",
    "make_cancelled", "make_status_reply", "make_plan_result", "new_id",
]
