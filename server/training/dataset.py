"""The prepared dataset as training samples, and the deterministic order they are drawn in.

A sample holds what one training step needs from disk: frames in [-1, 1], the point
trajectories P rendered by ``server.motion.render_trajectories`` (the same renderer inference
uses), and the moving-component masks M_i of every frame for L_attn. Only first-frame masks are
stored, so M_i is each component's frame-0 mask carried along by an affine fit of its tracked
points (``cv2.estimateAffine2D``), falling back to the median shift with too few points.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from server.motion import Trajectories, render_trajectories
from server.training.layout import ClipRecord, DatasetFormatError, list_clips


def component_motion_masks(masks: list[np.ndarray], positions: np.ndarray, visible: np.ndarray,
                           component: np.ndarray) -> np.ndarray:
    """(L, H, W) float32 union of every component's mask moved with its points to frame i.

    A component none of whose points is visible in frame i keeps its previous place."""
    length = positions.shape[0]
    height, width = masks[0].shape
    out = np.zeros((length, height, width), np.float32)
    for j, mask in enumerate(masks):
        members = np.flatnonzero(component == j)
        moved = mask.astype(np.uint8)
        for i in range(length):
            seen = members[visible[i, members] & visible[0, members]] if i else members[:0]
            if len(seen):
                model = None
                if len(seen) >= 3:
                    model, _ = cv2.estimateAffine2D(positions[0, seen], positions[i, seen])
                if model is None:
                    shift = np.median(positions[i, seen] - positions[0, seen], axis=0)
                    model = np.array([[1, 0, shift[0]], [0, 1, shift[1]]])
                moved = cv2.warpAffine(mask.astype(np.uint8), model.astype(np.float32),
                                       (width, height), flags=cv2.INTER_NEAREST)
            np.maximum(out[i], moved, out=out[i])
    return out


@dataclass
class Sample:
    frames: torch.Tensor        # (L, 3, H, W) float32 in [-1, 1]
    trajectories: torch.Tensor  # (L, H, W, 3) uint8, P
    masks: torch.Tensor         # (L, H, W) float32, M_i
    clip_id: str = ""           # the prepared clip it came from (key of the trainer's latent cache)


class TrackDataset(torch.utils.data.Dataset):
    """Clips of a ``trackgo-prepare`` folder, cut to ``frames`` and checked against the size."""

    def __init__(self, root: str | Path, frames: int, width: int, height: int) -> None:
        self.root = Path(root)
        self.records: list[ClipRecord] = list_clips(self.root)
        if not self.records:
            raise DatasetFormatError(f"dataset: {self.root} has no prepared clips")
        for record in self.records:
            meta = record.meta
            if (meta.get("width"), meta.get("height")) != (width, height):
                raise DatasetFormatError(
                    f"dataset: clip {record.clip_id} is {meta.get('width')}x{meta.get('height')}, "
                    f"training expects {width}x{height} (re-run trackgo-prepare with --width/--height)")
            if meta.get("frames", 0) < frames:
                raise DatasetFormatError(f"dataset: clip {record.clip_id} has {meta.get('frames')} "
                                         f"frames, training expects at least {frames}")
        self.frames, self.width, self.height = frames, width, height

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        n = self.frames
        frames = record.read_frames()[:n]
        positions, visible, component = record.read_tracks()
        positions, visible = positions[:n], visible[:n]
        traj = Trajectories.from_tracks(positions, component, visible)
        p = render_trajectories(traj, self.height, self.width)
        masks = component_motion_masks(record.read_masks(), positions, visible, component)
        return Sample(
            frames=torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0,
            trajectories=torch.from_numpy(np.ascontiguousarray(p)),
            masks=torch.from_numpy(masks),
            clip_id=record.clip_id,
        )


def collate(samples: list[Sample]) -> dict[str, torch.Tensor]:
    return {
        "frames": torch.stack([s.frames for s in samples]),
        "trajectories": torch.stack([s.trajectories for s in samples]),
        "masks": torch.stack([s.masks for s in samples]),
        "clip_ids": [s.clip_id for s in samples],
    }


@dataclass(frozen=True)
class StepOrder:
    """Which dataset items make up global step s: epoch-wise seeded permutations, consumed in
    order, ``batch`` items per step. A pure function of (seed, step), so a resumed run (or a run
    split over more processes) sees exactly the same samples at the same step."""

    size: int
    batch: int
    seed: int

    def items(self, step: int) -> list[int]:
        start = step * self.batch
        out = []
        for position in range(start, start + self.batch):
            epoch, offset = divmod(position, self.size)
            out.append(_permutation(self.size, self.seed + epoch)[offset])
        return out


@functools.lru_cache(maxsize=4)
def _permutation(size: int, seed: int) -> list[int]:
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
