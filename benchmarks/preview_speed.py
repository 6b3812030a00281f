"""How long the preview backend takes for SVD-XT's shot: 25 frames at 1024x576 with 3 tracks.

Times the whole job as the backend does it (K-means sampling, inpainted plate, feathered
layers, every frame), on a bundled photograph, median of several runs. Prints name=value lines;
the target is preview_seconds < 1 on two CPU cores.

    PYTHONPATH=. .venvs/server/bin/python benchmarks/preview_speed.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import cv2
import numpy as np
from skimage import data

from server.backends.preview import preview_renderer

WIDTH, HEIGHT, FRAMES = 1024, 576, 25


def scene():
    reference = cv2.resize(data.astronaut(), (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    masks = []
    for centre, axes in (((300, 200), (90, 70)), ((700, 300), (110, 90)), ((520, 460), (70, 50))):
        m = np.zeros((HEIGHT, WIDTH), np.uint8)
        cv2.ellipse(m, centre, axes, 20, 0, 360, 1, -1)
        masks.append(m > 0)
    arrows = [[(300, 200), (420, 260)],                                   # straight
              [(700, 300), (640, 200), (560, 260), (590, 330)],           # curved
              [(520, 460), (600, 420)]]
    return reference, masks, arrows, ["linear", "ease-in-out", "ease-out"]


def one_run(tau: float) -> tuple[float, float]:
    reference, masks, arrows, easings = scene()
    t0 = time.perf_counter()
    renderer = preview_renderer(reference, masks, arrows, easings, FRAMES, tau, seed=0)
    t1 = time.perf_counter()
    for _ in renderer.frames():
        pass
    t2 = time.perf_counter()
    return t2 - t0, t1 - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    one_run(0.0)                                          # warm-up: imports, OpenCV thread pool
    print(f"cpu_count={os.cpu_count()}")
    print(f"opencv_threads={cv2.getNumThreads()}")
    print(f"frames={FRAMES}")
    print(f"size={WIDTH}x{HEIGHT}")
    print("tracks=3")
    for name, tau in (("", 0.0), ("_tau_frozen", -1e4)):
        runs = [one_run(tau) for _ in range(args.runs)]
        total = [r[0] for r in runs]
        prepare = [r[1] for r in runs]
        print(f"preview_seconds{name}={statistics.median(total):.3f}")
        print(f"preview_seconds{name}_min={min(total):.3f}")
        print(f"preview_prepare_seconds{name}={statistics.median(prepare):.3f}")
        print(f"preview_ms_per_frame{name}={1000 * (statistics.median(total) - statistics.median(prepare)) / FRAMES:.1f}")


if __name__ == "__main__":
    main()
