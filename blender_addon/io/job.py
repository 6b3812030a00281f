"""Builds a protocol job (body + payload frames) from captured pixels, masks and arrows.

The reference frame and the masks travel as raw uint8 buffers (no image codec needed inside
Blender). Masks are thresholded at half coverage: the feather softens the edge the animator
sees, and everything at least half inside moves. The job is checked with the protocol's own
``validate_job`` before it is sent, so bad input is reported by track name immediately.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..protocol import sp

MASK_THRESHOLD = 128


@dataclass
class TrackInput:
    name: str
    mask: np.ndarray            # (H, W) uint8 (soft) or bool
    arrow: np.ndarray | None    # (N, 2) pixels, tail first; None for a point track
    easing: str = "linear"
    points: np.ndarray | None = None   # (K, L, 2) pixels per point per output frame (protocol 1.1)
    visible: np.ndarray | None = None  # (K, L) bool, None = all visible
    rotate: bool = False               # turn along the arrow (protocol 1.1; sent only when on)
    edge_softness: float = 0.0         # soft edge in output px (protocol 1.1; sent only when > 0)


class JobInputError(ValueError):
    """The job cannot be built; the message names the track or field and what was expected."""


def _mask_bytes(mask: np.ndarray, name: str, width: int, height: int) -> bytes:
    m = np.asarray(mask)
    if m.shape != (height, width):
        raise JobInputError(f"track {name!r}: mask is {m.shape[1] if m.ndim > 1 else '?'}x{m.shape[0]}, "
                            f"expected the reference size {width}x{height}")
    inside = m >= MASK_THRESHOLD if m.dtype == np.uint8 else m > 0.5 if m.dtype.kind == "f" else m.astype(bool)
    if not inside.any():
        raise JobInputError(f"track {name!r}: mask is empty (nothing at least half inside)")
    return np.ascontiguousarray(inside.astype(np.uint8) * 255).tobytes()


def params_body(params: dict) -> dict:
    """Only the known generation parameters, in plain Python types."""
    out = {}
    for key in sp.messages.DEFAULT_PARAMS:
        value = params.get(key)
        if value is None:
            continue
        out[key] = value.item() if isinstance(value, np.generic) else value
    return out


def build_job(reference: np.ndarray, tracks: list[TrackInput], params: dict,
              limits=None) -> tuple[dict, list[bytes]]:
    """(body, payloads) of a ``submit`` / ``plan`` message, assembled by the protocol's own
    builders and already validated."""
    ref = np.asarray(reference)
    if ref.dtype != np.uint8 or ref.ndim != 3 or ref.shape[2] not in (3, 4):
        raise JobInputError(f"reference: expected an (H, W, 3) uint8 image, got {ref.dtype} {ref.shape}")
    if not tracks:
        raise JobInputError("tracks: expected at least one enabled motion track with a mask and an arrow")
    height, width, channels = ref.shape
    image = sp.raw_image(np.ascontiguousarray(ref).tobytes(), width, height, channels)
    items = []
    for tr in tracks:
        if tr.points is not None:               # scene / tracker tracks: points as given
            mask = sp.raw_image(_mask_bytes(tr.mask, tr.name, width, height), width, height, 1)
            items.append(sp.point_track(mask, np.asarray(tr.points, dtype=np.float32), tr.visible, name=tr.name))
            continue
        pts = np.asarray(tr.arrow, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[0] < 2 or pts.shape[1] != 2:
            raise JobInputError(f"track {tr.name!r}: arrow needs at least 2 points, got shape {pts.shape}")
        mask = sp.raw_image(_mask_bytes(tr.mask, tr.name, width, height), width, height, 1)
        items.append(sp.track(mask, pts.round(3).tolist(), easing=tr.easing, name=tr.name, rotate=tr.rotate,
                              edge_softness=tr.edge_softness))
    body, payloads = sp.job_body(image, items, params_body(params))
    check(body, payloads, limits)
    return body, payloads


def check(body: dict, payloads: list[bytes], limits=None):
    """Validate with the protocol's rules; errors name the track by its name."""
    try:
        return sp.validation.validate_job(body, payloads, limits or sp.Limits())
    except sp.ProtocolError as exc:
        raise JobInputError(describe(exc.to_body(), [t.get("name") for t in body.get("tracks", [])])) from None


def describe(error_body: dict, track_names: list) -> str:
    from .client import describe_error
    return describe_error(error_body, [str(n) for n in track_names])
