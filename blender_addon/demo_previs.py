"""The previs demo: a blocked 3D scene drives the motion, headless, end to end.

    python3 dev.py demo --previs [--out DIR] [--blender 4.5]
    (runs: <blender env python> -m blender_addon.demo --previs --out DIR)

A photograph is the camera's background plate; a card-shaped proxy is blocked over the
astronaut's helmet and animated across the frame; the add-on derives the helmet's point tracks
from that animation (silhouette, K points anchored on the proxy, projected per output frame),
makes the plate the reference, and the preview backend generates. ObjMC (the project's,
``server.evaluation.objmc``) then tracks the helmet through the generated frames and compares
it with the projected proxy path: ``objmc_px=`` (target <= 2 px).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from blender_addon.demo import ROOT, SIZE, log, media, server_python, start_server

FRAMES = 14
# The card proxy: centred on the helmet, in the plane y = 0 facing the camera at y = -10.
CARD_SIZE = (1.6, 0.05, 1.6)
CARD_START = (1.92, 0.0, -2.59)
CARD_END = (0.9, 0.0, -1.9)
CAMERA = dict(location=(0.0, -10.0, 0.0), rotation=(math.pi / 2, 0.0, 0.0), lens=50.0, sensor_width=36.0)


def build_previs(bpy, photo: Path, seed: int):
    """The blocked scene: plate on the camera, animated proxy card; the proxy as a scene track."""
    from blender_addon import demo_previs_scene as ds

    scene = bpy.context.scene
    ds.set_render_size(scene, SIZE, SIZE)
    scene.frame_start, scene.frame_end = 1, 25
    cam = ds.camera(**CAMERA)
    plate = bpy.data.images.load(str(photo))
    plate.pack()
    bg = cam.data.background_images.new()
    bg.image, bg.frame_method = plate, "STRETCH"
    cam.data.show_background_images = True
    card = ds.box("HelmetProxy", size=CARD_SIZE, location=CARD_START)
    ds.linear_keys(card, "location", {scene.frame_start: CARD_START, scene.frame_end: CARD_END})
    bpy.context.view_layer.objects.active = card
    st = scene.trackgo
    st.frames, st.fps, st.width, st.height = FRAMES, 7, SIZE, SIZE
    st.random_seed, st.seed = False, seed
    bpy.ops.trackgo.scene_source_add(kind="OBJECT")
    scene.trackgo_scene.reference_from = "PLATE"
    bpy.ops.trackgo.scene_reference()
    if st.reference is None:
        raise SystemExit(f"demo: no reference: {st.error}")
    return scene


def main(args) -> int:
    import time

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    py = server_python()
    t_start = time.monotonic()
    photo = out / "plate.png"
    media(py, "photo", str(photo))

    import bpy

    import blender_addon
    from blender_addon import demo_scene
    from blender_addon.blender import compat, preferences, scene_sources, session, strips

    address, server = start_server(py, "preview")
    try:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        blender_addon.register()
        preferences.FALLBACK.server_address = address
        scene = build_previs(bpy, photo, args.seed)
        blend = out / "trackgo_previs.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend))
        st = scene.trackgo

        def state():
            return f"status={st.status!r} error={st.error!r} progress={st.progress_text!r}"

        (track,) = scene_sources.explicit_tracks(bpy.context, SIZE, SIZE, st.frames, st.fps)
        log(f"scene track {track.name!r}: {track.points.shape[0]} points over {track.points.shape[1]} frames, "
            f"silhouette {int(track.mask.sum())} px")
        np.save(out / "proxy_mask.npy", track.mask)
        np.save(out / "proxy_points.npy", track.points)

        bpy.ops.trackgo.connect()
        demo_scene.drive(lambda: st.connected or bool(st.error), 30, state)
        if not st.connected:
            raise SystemExit(f"demo: {st.error}")
        bpy.ops.trackgo.preview_points()
        demo_scene.drive(lambda: scene.name in session.SESSION.plans or bool(st.error), 60, state)
        plan = session.SESSION.plans.get(scene.name)
        if plan is None:
            raise SystemExit(f"demo: no plan: {st.error}")
        (out / "plan.json").write_text(json.dumps(plan))
        bpy.ops.trackgo.generate()
        demo_scene.drive(lambda: not st.busy, args.timeout, state)
        if not st.progress_text.startswith("Done"):
            raise SystemExit(f"demo: generation ended without success: {state()}")
        strip = [s for s in compat.strips(scene.sequence_editor) if strips.PROP_JOB in s][0]
        frames_dir = Path(bpy.path.abspath(strip.directory))
        bpy.ops.wm.save_mainfile()
    finally:
        session.shutdown()
        if hasattr(bpy.types.Scene, "trackgo"):
            blender_addon.unregister()
        server.stop()

    import subprocess

    res = subprocess.run([py, str(ROOT / "blender_addon" / "demo_previs_objmc.py"), str(frames_dir),
                          str(out / "proxy_mask.npy"), str(out / "proxy_points.npy")],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"demo: ObjMC failed: {(res.stderr or res.stdout).strip()[-800:]}")
    objmc = res.stdout.strip().splitlines()[-1]
    print()
    print("TrackGo previs demo: done in %.1f s (preview backend)" % (time.monotonic() - t_start))
    print(f"  .blend          {blend}")
    print(f"  frames          {frames_dir}")
    print(f"  plate           {photo}")
    print(objmc)
    return 0
