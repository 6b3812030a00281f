"""How the reference maps onto the job's output frame: size, crop / pad / stretch, resampling.

The add-on sends the reference and the masks already at the output size (the server then has
nothing to stretch, and a 4096² photo travels as the ~0.6 megapixels the model uses). The output
size follows the reference's aspect: the nearest size in multiples of 64 within the server's
limits. ``Framing`` is the one affine map reference pixels → output pixels that the reference,
the masks, the arrows, the points overlay and the strip's placement all share.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FIT_MODES = ("crop", "pad", "stretch")
STEP = 64
TARGET_PIXELS = 1024 * 576   # Stable Video Diffusion's native frame area


def output_size(ref_w: int, ref_h: int, limits=None, target_pixels: int = TARGET_PIXELS,
                step: int = STEP) -> tuple[int, int]:
    """The size (multiples of ``step``) closest to the reference's aspect, near ``target_pixels``
    and within ``limits`` (max_width, max_height, max_pixels). Aspect first, area second."""
    if ref_w <= 0 or ref_h <= 0:
        raise ValueError(f"reference size: expected positive width and height, got {ref_w}x{ref_h}")
    max_w = getattr(limits, "max_width", 2048)
    max_h = getattr(limits, "max_height", 2048)
    max_px = getattr(limits, "max_pixels", 1024 * 1024)
    target = min(target_pixels, max_px)
    aspect = ref_w / ref_h
    best, best_score = (step, step), math.inf
    for w in range(step, max_w + 1, step):
        for h in range(step, max_h + 1, step):
            if w * h > max_px:
                break
            score = 4.0 * abs(math.log((w / h) / aspect)) + abs(math.log(w * h / target))
            if score < best_score:
                best, best_score = (w, h), score
    return best


@dataclass(frozen=True)
class Framing:
    """out = ref * (sx, sy) + (tx, ty), in continuous pixel coordinates (top-left origin)."""
    ref_w: int
    ref_h: int
    out_w: int
    out_h: int
    mode: str
    sx: float
    sy: float
    tx: float
    ty: float

    def to_output(self, points) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        return p * (self.sx, self.sy) + (self.tx, self.ty)

    def to_reference(self, points) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        return (p - (self.tx, self.ty)) / (self.sx, self.sy)

    def to_body(self) -> dict:
        return {k: getattr(self, k) for k in ("ref_w", "ref_h", "out_w", "out_h", "mode", "sx", "sy", "tx", "ty")}


def framing(ref_w: int, ref_h: int, out_w: int, out_h: int, mode: str = "crop") -> Framing:
    """crop: fill the frame, cut the overflow (centred); pad: show all of it, bars around;
    stretch: scale each axis on its own (distorts unless the aspects match)."""
    if mode not in FIT_MODES:
        raise ValueError(f"fit: expected one of {', '.join(FIT_MODES)}, got {mode!r}")
    fx, fy = out_w / ref_w, out_h / ref_h
    if mode == "stretch":
        return Framing(ref_w, ref_h, out_w, out_h, mode, fx, fy, 0.0, 0.0)
    s = max(fx, fy) if mode == "crop" else min(fx, fy)
    return Framing(ref_w, ref_h, out_w, out_h, mode, s, s, (out_w - ref_w * s) / 2.0, (out_h - ref_h * s) / 2.0)


def _box_reduce(img: np.ndarray, kx: int, ky: int) -> np.ndarray:
    """Average ``ky`` x ``kx`` blocks (an exact area filter for integer factors)."""
    if kx <= 1 and ky <= 1:
        return img
    h, w = img.shape[:2]
    h2, w2 = h // ky, w // kx
    block = img[:h2 * ky, :w2 * kx].reshape(h2, ky, w2, kx, *img.shape[2:])
    return block.mean(axis=(1, 3), dtype=np.float32)


def resample(image: np.ndarray, fr: Framing, nearest: bool = False, fill=0) -> np.ndarray:
    """``image`` (ref_h, ref_w[, C]) drawn into the output frame by ``fr``: area-averaged when
    shrinking, bilinear (or nearest) for the rest; outside the reference is ``fill``."""
    img = np.asarray(image)
    dtype = img.dtype
    h, w = img.shape[:2]
    if (h, w) != (fr.ref_h, fr.ref_w):
        raise ValueError(f"image is {w}x{h}, expected the reference size {fr.ref_w}x{fr.ref_h}")
    kx = 1 if nearest else max(1, int(1.0 / fr.sx))
    ky = 1 if nearest else max(1, int(1.0 / fr.sy))
    src = _box_reduce(img, kx, ky).astype(np.float32, copy=False) if (kx > 1 or ky > 1) else img
    sh, sw = src.shape[:2]
    # Output pixel centre → source (reduced) pixel coordinates.
    xs = ((np.arange(fr.out_w) + 0.5 - fr.tx) / fr.sx) * (sw / w) - 0.5
    ys = ((np.arange(fr.out_h) + 0.5 - fr.ty) / fr.sy) * (sh / h) - 0.5
    inside_x = (xs >= -0.5) & (xs <= sw - 0.5)
    inside_y = (ys >= -0.5) & (ys <= sh - 0.5)
    if nearest:
        cx = np.clip(np.floor(xs + 0.5).astype(int), 0, sw - 1)
        cy = np.clip(np.floor(ys + 0.5).astype(int), 0, sh - 1)
        out = src[cy][:, cx]
    else:
        x0 = np.clip(np.floor(xs).astype(int), 0, sw - 1)
        y0 = np.clip(np.floor(ys).astype(int), 0, sh - 1)
        x1, y1 = np.minimum(x0 + 1, sw - 1), np.minimum(y0 + 1, sh - 1)
        ax = np.clip(xs - x0, 0.0, 1.0).astype(np.float32)
        ay = np.clip(ys - y0, 0.0, 1.0).astype(np.float32)
        if src.ndim == 3:
            ax, ay_ = ax[None, :, None], ay[:, None, None]
        else:
            ax, ay_ = ax[None, :], ay[:, None]
        top = src[y0][:, x0] * (1 - ax) + src[y0][:, x1] * ax
        bottom = src[y1][:, x0] * (1 - ax) + src[y1][:, x1] * ax
        out = top * (1 - ay_) + bottom * ay_
    if not (inside_x.all() and inside_y.all()):
        keep = inside_y[:, None] & inside_x[None, :]
        out = np.where(keep[..., None] if out.ndim == 3 else keep, out, fill)
    if dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(dtype, copy=False)
