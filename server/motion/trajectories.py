"""Per-frame point positions, one set per moving component: what P is drawn from.

Inference builds them from masks + arrows (every point of a component moves by its arrow's
displacement); training builds them from tracked points (positions and visibility from the
tracker). Both give the same ``Trajectories`` and go through the same renderer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .arrows import ArrowPath, check_easing, check_frames
from .errors import MotionInputError
from .sampling import check_mask, points_per_component, sample_points


@dataclass(frozen=True)
class Trajectories:
    """positions (L, N, 2) float32 xy; component (N,) int32; visible (L, N) bool."""

    positions: np.ndarray
    component: np.ndarray
    visible: np.ndarray

    def __post_init__(self):
        pos = np.ascontiguousarray(self.positions, dtype=np.float32)
        comp = np.ascontiguousarray(self.component, dtype=np.int32)
        vis = np.ascontiguousarray(self.visible, dtype=bool)
        if pos.ndim != 3 or pos.shape[2] != 2:
            raise MotionInputError("positions", f"expected shape (frames, points, 2), got {pos.shape}")
        if pos.shape[0] < 1:
            raise MotionInputError("positions", "expected at least one frame")
        if comp.shape != (pos.shape[1],):
            raise MotionInputError("component", f"expected shape ({pos.shape[1]},), got {comp.shape}")
        if vis.shape != pos.shape[:2]:
            raise MotionInputError("visible", f"expected shape {pos.shape[:2]}, got {vis.shape}")
        if (comp < 0).any():
            raise MotionInputError("component", "expected non-negative component indices")
        if not np.isfinite(pos).all():
            raise MotionInputError("positions", "expected finite coordinates")
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "component", comp)
        object.__setattr__(self, "visible", vis)

    @property
    def num_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def num_points(self) -> int:
        return self.positions.shape[1]

    @property
    def num_components(self) -> int:
        return int(self.component.max()) + 1 if self.num_points else 0

    def displacements(self) -> np.ndarray:
        """(L, N, 2): each point's offset from where it starts in frame 0."""
        return self.positions - self.positions[:1]

    @classmethod
    def from_tracks(cls, positions, component, visible=None) -> "Trajectories":
        """Training's constructor: tracker positions (L, N, 2) and status (L, N); all visible if None."""
        positions = np.asarray(positions, dtype=np.float32)
        if visible is None:
            visible = np.ones(positions.shape[:2], dtype=bool)
        return cls(positions, component, visible)


def trajectories_from_tracks(positions, component, visible=None) -> Trajectories:
    """Same as ``Trajectories.from_tracks``."""
    return Trajectories.from_tracks(positions, component, visible)


def _component_seed(seed: int, index: int) -> int:
    """Independent, reproducible per-component seeds from one job seed."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, index]).generate_state(1)[0])


def trajectories_from_arrows(masks: Sequence[np.ndarray], arrows: Sequence, easings, frames: int,
                             seed: int, *, fields: Sequence[str] | None = None,
                             k: Sequence[int | None] | None = None,
                             explicit: Sequence | None = None) -> Trajectories:
    """Sample each mask's points (Eq. 10) and move them all by that mask's arrow, frame by frame.

    ``arrows`` are ArrowPath or (M, 2) point lists in the masks' pixel coordinates; ``easings`` is
    one name for all or one per track; ``fields`` names each track in errors (default
    ``tracks[i]``); ``k`` overrides Eq. 10 per track. Arrow points are all visible (the renderer
    clips what leaves the frame). ``explicit`` (per track None or ``(positions (L, K, 2),
    visible (L, K))``) gives a track's trajectories as they are: no sampling, no arrow.
    """
    from .rendering import MAX_COMPONENTS

    frames = check_frames(frames)
    n = len(masks)
    fields = list(fields) if fields is not None else [f"tracks[{i}]" for i in range(n)]
    if n == 0:
        raise MotionInputError("tracks", "expected at least one track (a mask and an arrow)")
    if len(arrows) != n:
        raise MotionInputError("tracks", f"expected one arrow per mask, got {n} masks and {len(arrows)} arrows")
    if len(fields) != n:
        raise MotionInputError("fields", f"expected one field name per track, got {len(fields)} for {n}")
    if n > MAX_COMPONENTS:
        raise MotionInputError("tracks", f"at most {MAX_COMPONENTS} tracks are supported, got {n}")
    if isinstance(easings, str) or easings is None:
        easings = [easings or "linear"] * n
    if len(easings) != n:
        raise MotionInputError("tracks", f"expected one easing per track, got {len(easings)} for {n}")
    ks = list(k) if k is not None else [None] * n
    if len(ks) != n:
        raise MotionInputError("k", f"expected one point count (or None) per track, got {len(ks)} for {n}")
    extra = list(explicit) if explicit is not None else [None] * n
    if len(extra) != n:
        raise MotionInputError("explicit", f"expected one entry (or None) per track, got {len(extra)} for {n}")
    shape = None
    positions, component, visible = [], [], []
    for j in range(n):
        mask = check_mask(masks[j], f"{fields[j]}.mask")
        if shape is None:
            shape = mask.shape
        elif mask.shape != shape:
            raise MotionInputError(f"{fields[j]}.mask",
                                   f"expected size {shape[1]}x{shape[0]} like the first mask, "
                                   f"got {mask.shape[1]}x{mask.shape[0]}")
        if extra[j] is not None:
            given, seen = (np.asarray(a) for a in extra[j])
            if given.ndim != 3 or given.shape[0] != frames or given.shape[2] != 2 or seen.shape != given.shape[:2]:
                raise MotionInputError(f"{fields[j]}.points", f"expected ({frames}, K, 2) positions and (frames, K) "
                                                              f"visibility, got {given.shape} and {seen.shape}")
            positions.append(given)
            visible.append(seen.astype(bool))
            component.append(np.full(given.shape[1], j, dtype=np.int32))
            continue
        arrow = arrows[j] if isinstance(arrows[j], ArrowPath) else ArrowPath(arrows[j], f"{fields[j]}.arrow")
        easing = check_easing(easings[j], f"{fields[j]}.arrow.easing")
        kj = ks[j] if ks[j] is not None else points_per_component(mask.mean())
        pts = sample_points(mask, kj, _component_seed(seed, j), field=f"{fields[j]}.mask")
        disp = arrow.displacements(frames, easing)                     # (L, 2)
        positions.append(pts[None, :, :] + disp[:, None, :])
        visible.append(np.ones((frames, len(pts)), dtype=bool))
        component.append(np.full(len(pts), j, dtype=np.int32))
    pos = np.concatenate(positions, axis=1).astype(np.float32)
    comp = np.concatenate(component)
    return Trajectories(pos, comp, np.concatenate(visible, axis=1))
