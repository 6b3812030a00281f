"""Mask rasterisation without Blender: bezier splines with feather → soft 8-bit masks.

Mirrors how Blender draws a Mask layer: each spline is a cubic bezier through its control
points (handles included), filled, and surrounded by a feather band whose width comes from
the points' feather ``weight`` (in mask units) and falls off with the layer's falloff curve.
Splines of one layer combine with max; an inverted layer is ``1 - alpha``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import coords


@dataclass(frozen=True)
class SplinePoint:
    """One control point in pixel coordinates, with its handles and feather width (pixels)."""
    co: tuple[float, float]
    handle_left: tuple[float, float]
    handle_right: tuple[float, float]
    feather: float = 0.0


@dataclass(frozen=True)
class Spline:
    points: tuple[SplinePoint, ...]
    cyclic: bool = True


@dataclass(frozen=True)
class Layer:
    splines: tuple[Spline, ...]
    invert: bool = False
    alpha: float = 1.0
    falloff: str = "SMOOTH"
    name: str = ""
    extra: dict = field(default_factory=dict)


def bezier_segment(p0, h0, h1, p1, steps: int) -> np.ndarray:
    """Points of one cubic bezier segment, excluding its end point."""
    t = np.linspace(0.0, 1.0, steps, endpoint=False)[:, None]
    p0, h0, h1, p1 = (np.asarray(v, dtype=np.float64) for v in (p0, h0, h1, p1))
    u = 1.0 - t
    return u**3 * p0 + 3 * u**2 * t * h0 + 3 * u * t**2 * h1 + t**3 * p1


def spline_outline(spline: Spline, steps: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """The spline evaluated as a polyline (M, 2) and the feather width at each vertex (M,)."""
    pts = spline.points
    if len(pts) < 2:
        raise ValueError("mask spline: expected at least 2 points")
    n = len(pts) if spline.cyclic else len(pts) - 1
    outline, widths = [], []
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % len(pts)]
        seg = bezier_segment(a.co, a.handle_right, b.handle_left, b.co, steps)
        outline.append(seg)
        t = np.linspace(0.0, 1.0, steps, endpoint=False)
        widths.append((1 - t) * a.feather + t * b.feather)
    if not spline.cyclic:
        outline.append(np.asarray([pts[-1].co], dtype=np.float64))
        widths.append(np.asarray([pts[-1].feather]))
    return np.concatenate(outline), np.concatenate(widths)


def fill_polygon(poly: np.ndarray, width: int, height: int) -> np.ndarray:
    """Even-odd fill of a closed polygon in pixel coordinates, sampled at pixel centres."""
    poly = np.asarray(poly, dtype=np.float64)
    out = np.zeros((height, width), dtype=bool)
    if len(poly) < 3:
        return out
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    ys = np.arange(height) + 0.5
    lo, hi = int(max(0, np.floor(y0.min()))), int(min(height, np.ceil(y0.max())))
    xs_centres = np.arange(width) + 0.5
    for row in range(lo, hi):
        y = ys[row]
        crosses = (y0 <= y) != (y1 <= y)
        if not crosses.any():
            continue
        t = (y - y0[crosses]) / (y1[crosses] - y0[crosses])
        xi = np.sort(x0[crosses] + t * (x1[crosses] - x0[crosses]))
        count = np.searchsorted(xi, xs_centres)  # crossings left of each pixel centre
        out[row] = (count % 2) == 1
    return out


def distance_to_outline(poly: np.ndarray, widths: np.ndarray, xs: np.ndarray, ys: np.ndarray):
    """Distance from each (x, y) to the closed polyline and the feather width there."""
    a = np.asarray(poly, dtype=np.float64)
    b = np.roll(a, -1, axis=0)
    wa, wb = widths, np.roll(widths, -1)
    best = np.full(xs.shape, np.inf)
    best_w = np.zeros(xs.shape)
    for i in range(len(a)):
        d = b[i] - a[i]
        den = float(d @ d) or 1e-12
        t = np.clip(((xs - a[i, 0]) * d[0] + (ys - a[i, 1]) * d[1]) / den, 0.0, 1.0)
        dist = np.hypot(xs - (a[i, 0] + t * d[0]), ys - (a[i, 1] + t * d[1]))
        closer = dist < best
        best = np.where(closer, dist, best)
        best_w = np.where(closer, wa[i] + t * (wb[i] - wa[i]), best_w)
    return best, best_w


def _falloff(t: np.ndarray, kind: str) -> np.ndarray:
    """Blender's mask falloff curves on t ∈ [0, 1] (1 at the spline, 0 at the feather edge)."""
    if kind == "SMOOTH":
        return t * t * (3.0 - 2.0 * t)
    if kind == "SPHERE":
        return np.sqrt(np.clip(1.0 - (1.0 - t) ** 2, 0.0, 1.0))
    if kind == "ROOT":
        return np.sqrt(t)
    if kind == "SHARP":
        return t * t
    if kind == "INVERSE_SQUARE":
        return t * (2.0 - t)
    return t  # LINEAR and anything else


def rasterize_spline(spline: Spline, width: int, height: int, falloff: str = "SMOOTH",
                     steps: int = 32) -> np.ndarray:
    """Soft alpha (H, W) float32 in [0, 1] of one filled spline with its feather band."""
    poly, widths = spline_outline(spline, steps)
    alpha = fill_polygon(poly, width, height).astype(np.float32)
    max_w = float(widths.max()) if len(widths) else 0.0
    if max_w <= 0.0:
        return alpha
    x_lo = int(max(0, np.floor(poly[:, 0].min() - max_w)))
    x_hi = int(min(width, np.ceil(poly[:, 0].max() + max_w)))
    y_lo = int(max(0, np.floor(poly[:, 1].min() - max_w)))
    y_hi = int(min(height, np.ceil(poly[:, 1].max() + max_w)))
    if x_hi <= x_lo or y_hi <= y_lo:
        return alpha
    ys, xs = np.mgrid[y_lo:y_hi, x_lo:x_hi].astype(np.float64) + 0.5
    dist, w = distance_to_outline(poly, widths, xs, ys)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(w > 0, 1.0 - dist / w, 0.0)
    soft = _falloff(np.clip(t, 0.0, 1.0), falloff).astype(np.float32)
    box = alpha[y_lo:y_hi, x_lo:x_hi]
    alpha[y_lo:y_hi, x_lo:x_hi] = np.maximum(box, soft)
    return alpha


def rasterize_layer(layer: Layer, width: int, height: int, steps: int = 32) -> np.ndarray:
    """Soft alpha (H, W) float32 of a whole mask layer."""
    alpha = np.zeros((height, width), dtype=np.float32)
    for spline in layer.splines:
        alpha = np.maximum(alpha, rasterize_spline(spline, width, height, layer.falloff, steps))
    if layer.invert:
        alpha = 1.0 - alpha
    return np.clip(alpha * float(layer.alpha), 0.0, 1.0)


def to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Float alpha → 8-bit mask (0 outside, 255 inside, feather in between)."""
    return np.clip(np.rint(np.asarray(alpha, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def spline_from_mask_points(points, width: int, height: int, cyclic: bool = True) -> Spline:
    """Build a :class:`Spline` from mask-space tuples (co, handle_left, handle_right, weight)."""
    out = []
    for co, hl, hr, weight in points:
        px = coords.mask_to_pixels([co, hl, hr], width, height)
        out.append(SplinePoint(tuple(px[0]), tuple(px[1]), tuple(px[2]),
                               coords.mask_length_to_pixels(weight, width, height)))
    return Spline(tuple(out), cyclic)


def map_layer(layer: Layer, to_output, scale: float) -> Layer:
    """The layer moved into another pixel frame: ``to_output`` maps (N, 2) points, feather
    widths scale by ``scale`` (the frame's pixel size ratio)."""
    splines = []
    for spline in layer.splines:
        pts = []
        for p in spline.points:
            co, hl, hr = to_output([p.co, p.handle_left, p.handle_right])
            pts.append(SplinePoint(tuple(co), tuple(hl), tuple(hr), p.feather * scale))
        splines.append(Spline(tuple(pts), spline.cyclic))
    return Layer(tuple(splines), invert=layer.invert, alpha=layer.alpha, falloff=layer.falloff,
                 name=layer.name, extra=dict(layer.extra))
