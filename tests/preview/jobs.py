"""Twenty-four varied preview jobs on bundled scikit-image photographs (offline), for ObjMC."""
from __future__ import annotations

import cv2
import numpy as np

from tests.preview.conftest import photo

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "immunohistochemistry",
          "hubble_deep_field", "brick", "grass", "gravel", "moon"]
SIZES = [(512, 320), (448, 448), (320, 512), (640, 384), (576, 320), (384, 256)]
EASINGS = ["linear", "ease-in", "ease-out", "ease-in-out"]
TAUS = [0.0, -100.0, -1e4]
SHAPES = ["disc", "ellipse", "triangle", "c", "rectangle", "star"]


def shape_mask(kind, height, width, centre, size, rng):
    m = np.zeros((height, width), np.uint8)
    cx, cy = int(centre[0]), int(centre[1])
    if kind == "disc":
        cv2.circle(m, (cx, cy), size, 1, -1)
    elif kind == "ellipse":
        cv2.ellipse(m, (cx, cy), (size, max(6, size // 2)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif kind == "triangle":
        pts = np.array([[cx, cy - size], [cx - size, cy + size], [cx + size, cy + size]], np.int32)
        cv2.fillPoly(m, [pts], 1)
    elif kind == "c":
        cv2.ellipse(m, (cx, cy), (size, size), 0, 40, 320, 1, thickness=max(6, size // 2))
    elif kind == "rectangle":
        cv2.rectangle(m, (cx - size, cy - size // 2), (cx + size, cy + size // 2), 1, -1)
    else:
        angles = np.linspace(0, 2 * np.pi, 11)[:-1]
        radii = np.where(np.arange(10) % 2 == 0, size, size // 2)
        pts = np.stack([cx + radii * np.sin(angles), cy - radii * np.cos(angles)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 1)
    return m > 0


def varied_jobs(count=24, seed=2024):
    """Jobs as dicts: reference, masks, arrows, easings, frames, tau, name."""
    rng = np.random.default_rng(seed)
    jobs = []
    for n in range(count):
        w, h = SIZES[n % len(SIZES)]
        name = PHOTOS[n % len(PHOTOS)]
        ref = photo(name, w, h)
        frames = 14 if n % 2 else 25
        tau = TAUS[n % len(TAUS)]
        if n % 8 == 7:                                         # camera move: the whole frame
            masks = [np.ones((h, w), bool)]
            d = rng.uniform(-0.08, 0.08, 2) * (w, h)
            arrows = [np.array([[w / 2, h / 2], [w / 2 + d[0], h / 2 + d[1]]])]
            easings = [EASINGS[n % 4]]
        else:
            tracks = 1 + n % 3
            band = w / tracks
            masks, arrows, easings = [], [], []
            for j in range(tracks):
                size = max(20, int(min(band, h) * rng.uniform(0.12, 0.2)))
                cx = band * (j + 0.5)
                cy = h * rng.uniform(0.3, 0.45)
                kind = SHAPES[(n + j) % len(SHAPES)]
                masks.append(shape_mask(kind, h, w, (cx, cy), size, rng))
                dy = h * rng.uniform(0.15, 0.3)
                dx = band * rng.uniform(-0.2, 0.2)
                if (n + j) % 2:
                    arrow = [(cx, cy), (cx + dx, cy + dy)]
                else:                                          # curved: bends sideways and back
                    arrow = [(cx, cy), (cx + dx + band * 0.15, cy + dy * 0.5), (cx + dx, cy + dy)]
                arrows.append(np.array(arrow))
                easings.append(EASINGS[(n + j) % 4])
        jobs.append(dict(reference=ref, masks=masks, arrows=arrows, easings=easings, frames=frames, tau=tau,
                         name=f"{n:02d}-{name}-{w}x{h}-{len(masks)}tracks-tau{tau:g}"))
    return jobs
