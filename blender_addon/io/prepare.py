"""Turns what the main thread read from Blender into a ready-to-send job, off the main thread.

The main thread only copies Blender data (reference pixels, mask splines, arrow points) into a
:class:`JobSource`; :func:`prepare` then does the heavy part in a worker thread: sRGB encoding,
fitting the reference into the output frame (crop / pad / stretch, downscaled to the output
size), rasterising the masks at the output size, mapping the arrows, building and validating the
job, and checking its encoded size against the server's ``max_message_bytes``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import framing as fr_mod
from . import raster
from .job import JobInputError, TrackInput, build_job

MB = 1024 * 1024
HEADER_ALLOWANCE = 64 * 1024   # the msgpack header of a job is a few KiB; payloads dominate


@dataclass
class TrackSource:
    name: str
    mask: object            # raster.Layer (reference pixels) or PaintedMask
    arrow: np.ndarray       # (N, 2) reference pixels, tail first
    easing: str = "linear"
    rotate: bool = False    # turn along the arrow (protocol 1.1)
    edge_softness: float = 0.0   # soft edge width, output pixels (protocol 1.1)


@dataclass
class PaintedMask:
    """A painted mask image's pixels (flat float32 RGBA, bottom row first): white is inside."""
    pixels: np.ndarray
    width: int
    height: int

    def coverage(self) -> np.ndarray:
        rgba = np.asarray(self.pixels, dtype=np.float32).reshape(self.height, self.width, 4)[::-1]
        return rgba[..., :3].mean(axis=-1) * rgba[..., 3]


@dataclass
class JobSource:
    """Plain copies of Blender data: safe to hand to another thread."""
    pixels: np.ndarray | None  # flat float32 RGBA, bottom row first (as ``Image.pixels``)
    width: int
    height: int
    is_float: bool
    tracks: list             # TrackSource, or io.job.TrackInput point tracks at the reference size
    params: dict
    fit: str = "crop"
    size: tuple | None = None   # (w, h) chosen by the user; None: follow the reference's aspect
    meta: list = field(default_factory=list)
    image_name: str = ""        # the reference image, whose pixels the main thread copies in
    reference_file: object = None   # io.decode.FileReference: read by a separate process instead


def pixel_buffer(width: int, height: int) -> np.ndarray:
    """An RGBA float32 buffer with every page already touched (done in a worker: the main
    thread's copy into it then costs only the copy, not 256 MB of page faults at 4096²)."""
    buf = np.empty(width * height * 4, dtype=np.float32)
    buf.fill(0.0)
    return buf


@dataclass
class PreparedJob:
    body: dict
    payloads: list
    track_names: list
    framing: fr_mod.Framing
    meta: list


def reference_srgb8(pixels: np.ndarray, width: int, height: int, is_float: bool) -> np.ndarray:
    """Blender's float RGBA (bottom row first) → (H, W, 3) uint8 sRGB, top row first. uint8
    pixels are an 8-bit image's values × 255 (``io.decode``): the same result, taken as they are."""
    if getattr(pixels, "dtype", None) == np.uint8:
        return np.asarray(pixels).reshape(height, width, 4)[::-1, :, :3]
    rgb = np.asarray(pixels, dtype=np.float32).reshape(height, width, 4)[::-1, :, :3]
    if is_float:  # float buffers are scene-linear: encode to sRGB for the model
        rgb = np.where(rgb <= 0.0031308, rgb * 12.92, 1.055 * np.power(np.clip(rgb, 0, None), 1 / 2.4) - 0.055)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def encoded_size(body: dict, payloads: list) -> int:
    return sum(len(p) for p in payloads) + HEADER_ALLOWANCE


def check_size(body: dict, payloads: list, limits) -> None:
    """Refuse a job the server would refuse for its size, saying what to change."""
    cap = getattr(limits, "max_message_bytes", None)
    size = encoded_size(body, payloads)
    if cap and size > cap:
        w, h = body["params"].get("width"), body["params"].get("height")
        raise JobInputError(f"job: {size / MB:.1f} MB to send, the server takes at most {cap / MB:.1f} MB "
                            f"(welcome.limits.max_message_bytes): lower the output size ({w}x{h}) or "
                            f"use fewer tracks ({len(payloads) - 1})")


def _point_track(t: TrackInput, frame: fr_mod.Framing, mask: np.ndarray | None = None) -> TrackInput:
    """An explicit point track (scene / tracker sources, made at the reference size) in the
    output frame: its mask resampled like the painted masks, its points through the same map."""
    if mask is None:
        mask = raster.to_uint8(fr_mod.resample(np.asarray(t.mask, dtype=np.float32), frame, nearest=True))
    return TrackInput(t.name, mask, None, points=frame.to_output(t.points), visible=t.visible)


def _frame(src: JobSource, limits) -> fr_mod.Framing:
    out_w, out_h = src.size or fr_mod.output_size(src.width, src.height, limits)
    return fr_mod.framing(src.width, src.height, out_w, out_h, src.fit)


def precheck(src: JobSource, limits=None) -> fr_mod.Framing:
    """The checks that need no pixels, in a few milliseconds on the main thread: parameters,
    arrows, track count and the message size, so Generate refuses bad input at once.
    (Only an empty mask waits for the worker to rasterise it.)"""
    frame = _frame(src, limits)
    ref = np.zeros((frame.out_h, frame.out_w, 3), dtype=np.uint8)
    full = np.full((frame.out_h, frame.out_w), 255, dtype=np.uint8)
    tracks = [_point_track(t, frame, full) if isinstance(t, TrackInput)
              else TrackInput(t.name, full, frame.to_output(t.arrow), t.easing, rotate=t.rotate,
                                    edge_softness=t.edge_softness) for t in src.tracks]
    body, payloads = build_job(ref, tracks, dict(src.params, width=frame.out_w, height=frame.out_h), limits)
    check_size(body, payloads, limits)
    return frame


def prepare(src: JobSource, limits=None) -> PreparedJob:
    """Everything heavy, in the calling (worker) thread. Raises JobInputError with a clear message."""
    frame = _frame(src, limits)
    out_w, out_h = frame.out_w, frame.out_h
    ref = fr_mod.resample(reference_srgb8(src.pixels, src.width, src.height, src.is_float), frame)
    feather_scale = float(np.sqrt(frame.sx * frame.sy))
    tracks = []
    for t in src.tracks:
        if isinstance(t, TrackInput):
            tracks.append(_point_track(t, frame))
            continue
        if isinstance(t.mask, raster.Layer):
            layer = raster.map_layer(t.mask, frame.to_output, feather_scale)
            mask = raster.to_uint8(raster.rasterize_layer(layer, out_w, out_h))
        else:  # a painted image of any size stands for the whole reference
            pm = t.mask
            own = fr_mod.Framing(pm.width, pm.height, out_w, out_h, frame.mode, frame.sx * src.width / pm.width,
                                 frame.sy * src.height / pm.height, frame.tx, frame.ty)
            mask = raster.to_uint8(fr_mod.resample(pm.coverage(), own, nearest=True))
        tracks.append(TrackInput(t.name, mask, frame.to_output(t.arrow), t.easing, rotate=t.rotate,
                                 edge_softness=t.edge_softness))
    params = dict(src.params, width=out_w, height=out_h)
    body, payloads = build_job(ref, tracks, params, limits)
    check_size(body, payloads, limits)
    return PreparedJob(body, payloads, [t.name for t in tracks], frame, list(src.meta))
