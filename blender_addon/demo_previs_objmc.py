"""Previs demo helper, run with the *server* environment's Python (ObjMC needs OpenCV).

    python demo_previs_objmc.py FRAMES_DIR MASK.npy POINTS.npy      prints objmc_px=<value>

The target is the proxy's projected path: ObjMC's anchor (the mask's inscribed-circle centre)
moved by the scene track's displacement (the proxy card translates parallel to the image, so
every point of it moves alike; the median guards against a stray point).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from server.evaluation.objmc import objmc_for_video


def main(frames_dir: str, mask_path: str, points_path: str) -> None:
    files = sorted(Path(frames_dir).glob("[0-9][0-9][0-9][0-9].png"))
    frames = [cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for f in files]
    mask = np.load(mask_path)
    points = np.load(points_path).astype(np.float64)            # (K, L, 2)
    if points.shape[1] != len(frames):
        raise SystemExit(f"objmc: {len(frames)} frames but the track has {points.shape[1]}")
    displacement = np.median(points - points[:, :1], axis=0)    # (L, 2)
    result = objmc_for_video(frames, [mask], displacements=[displacement])
    print(f"objmc_px={result.value:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
