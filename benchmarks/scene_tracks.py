"""How long scene point tracks take: one dense animated mesh seen by a camera.

    <blender env python> benchmarks/scene_tracks.py [--triangles 20000] [--frames 25]

Prints name=value lines: the reference-frame z-buffer (numpy, per triangle), and the whole
``scene_tracks`` call (z-buffer + sampling + per-frame evaluation, projection, ray casts).
"""
from __future__ import annotations

import argparse
import math
import time

import bpy
import numpy as np

from blender_addon import demo_previs_scene as ds
from blender_addon.blender import scene_tracks as st
from blender_addon.io import projection


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--triangles", type=int, default=20000)
    ap.add_argument("--frames", type=int, default=25)
    args = ap.parse_args()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    ds.set_render_size(scene, 1024, 576)
    scene.frame_start, scene.frame_end = 1, 49
    side = max(1, int(math.sqrt(args.triangles / 2)))
    sheet = ds.grid("Dense", columns=side, rows=side, size=(3.0, 3.0))
    ds.linear_keys(sheet, "location", {1: (-1.0, 0.0, 0.0), 49: (1.0, 0.0, 0.5)})
    cam = ds.camera()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    verts, tris = st.evaluated_mesh(sheet, depsgraph)
    view, proj = st.camera_matrices(scene, cam, depsgraph, 1024, 576)
    t0 = time.perf_counter()
    projection.rasterize([(verts, tris)], view, proj, 1024, 576)
    t1 = time.perf_counter()
    (track,) = st.scene_tracks(scene, [sheet], cam, args.frames)
    t2 = time.perf_counter()
    print(f"triangles={len(tris)}")
    print(f"points={track.points.shape[0]}")
    print(f"frames={args.frames}")
    print(f"zbuffer_s={t1 - t0:.3f}")
    print(f"scene_tracks_s={t2 - t1:.3f}")


if __name__ == "__main__":
    main()
