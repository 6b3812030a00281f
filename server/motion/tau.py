"""τ, the user's hold on the unspecified area (no mask covers it): one curve for every backend.

The paper's τ, read literally, changes nothing (see docs/model.md), so we define what it does:
a gate g(τ) on how much of the surroundings' own motion survives. Both the TrackGo adapter
(original-branch weight in unspecified attention rows) and the preview (how strongly the
surroundings follow the regions) use this same g, so a τ an animator chose in preview means
the same in the real model.
"""
from __future__ import annotations

import math

from .errors import MotionInputError

TAU_FROZEN = -1e4   # the protocol's lowest τ: the unspecified area is held still


def tau_gate(tau: float) -> float:
    """g(τ) = clip(1 − log10(1 + |τ|) / log10(1 + 1e4), 0, 1).

    g(0) = 1 exactly (τ = 0 changes nothing: the paper's Eqs. 2–4), g(−1e2) ≈ 0.50,
    g(−1e4) = 0 (held), strictly decreasing in between; logarithmic because the paper's
    settings (0, −1e2, −1e4) are decades apart. Raises ``MotionInputError`` (a ValueError)
    naming ``tau`` outside [−1e4, 0].
    """
    try:
        tau = float(tau)
    except (TypeError, ValueError):
        raise MotionInputError("tau", f"expected a number in [{TAU_FROZEN:g}, 0], got {tau!r}") from None
    if not math.isfinite(tau) or tau > 0 or tau < TAU_FROZEN:
        raise MotionInputError("tau", f"expected a number in [{TAU_FROZEN:g}, 0], got {tau!r}")
    if tau == 0.0:
        return 1.0
    return min(1.0, max(0.0, 1.0 - math.log10(1.0 - tau) / math.log10(1.0 - TAU_FROZEN)))
