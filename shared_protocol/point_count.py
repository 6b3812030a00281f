"""Eq. 10 of the paper: how many points K stand for a mask, from its share of the image.

Shared by both sides: the server samples K points of a painted mask; the add-on samples K
points of a scene object's silhouette for an explicit point track (protocol 1.1). One
definition keeps the two counts equal. Pure Python.
"""
import math

K_MIN, K_MAX = 16, 64
P_LOW, P_HIGH = 0.1, 0.4


class PointCountError(ValueError):
    """The area share is not a fraction in [0, 1]."""


def points_per_component(area_share: float) -> int:
    """Eq. 10: K = 16 below a 10 % share, 64 above 40 %, linear between (rounded half up)."""
    try:
        p = float(area_share)
    except (TypeError, ValueError):
        p = math.nan
    if not math.isfinite(p) or p < 0.0 or p > 1.0:
        raise PointCountError(f"expected a fraction in [0, 1], got {area_share!r}")
    if p < P_LOW:
        return K_MIN
    if p > P_HIGH:
        return K_MAX
    k = K_MIN + (K_MAX - K_MIN) / (P_HIGH - P_LOW) * (p - P_LOW)
    # Half up, not Python's banker's rounding; the epsilon absorbs float error at exact halves.
    return int(math.floor(k + 0.5 + 1e-9))
