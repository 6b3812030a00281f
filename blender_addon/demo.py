"""The demo: a real photograph comes alive in Blender's sequencer, headless, end to end.

    python3 dev.py demo [--out DIR] [--blender 4.5] [--backend preview|trackgo|dualclock]
    (runs: <blender env python> -m blender_addon.demo --out DIR [--backend X])

It starts the model server from ``$TRACKGO_SERVER_PYTHON`` (the preview backend, or TrackGo
when ``TRACKGO_SVD_PATH`` and ``TRACKGO_ADAPTER_PATH`` point at weights), registers the add-on
in the ``bpy`` module, builds a shot from code — the astronaut photograph, a Mask datablock
with two layers (the shuttle model and the helmet), two arrows drawn as Grease Pencil strokes
through the camera — auto-pairs, asks the server for the planned points, generates, and drives
the add-on's timer until the last frame is in the sequencer. Then it saves the .blend, renders
the sequencer to MP4 with Blender's FFmpeg, draws a contact sheet, and prints where all is.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = 512  # the photograph is 512x512, a multiple of 64: generated at its own size
SHUTTLE = [(383, 92), (397, 72), (410, 92), (414, 30), (430, 2), (448, 30), (455, 100), (458, 200),
           (466, 262), (372, 266), (356, 218), (384, 186)]
HELMET = (392.0, 440.0, 112.0)
ARROW_SHUTTLE = [(412, 160), (418, 120), (430, 80), (448, 45)]   # lift-off, curving right
ARROW_HELMET = [(392, 440), (360, 445), (330, 455), (300, 470)]  # rolls left and down


def log(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def server_python() -> str:
    py = os.environ.get("TRACKGO_SERVER_PYTHON") or str(ROOT / ".venvs" / "server" / "bin" / "python")
    if not Path(py).exists():
        raise SystemExit(f"demo: TRACKGO_SERVER_PYTHON: expected the server environment's python, "
                         f"{py} does not exist (run `python3 dev.py demo`, which creates it)")
    return py


def choose_backend(requested: str | None) -> str:
    if requested == "dualclock" and not os.environ.get("TRACKGO_SVD_PATH"):
        raise SystemExit("demo: --backend dualclock needs TRACKGO_SVD_PATH set to a local diffusers SVD-XT folder")
    if requested:
        return requested
    weights = os.environ.get("TRACKGO_SVD_PATH") and os.environ.get("TRACKGO_ADAPTER_PATH")
    return "trackgo" if weights else "preview"


def free_address() -> str:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def media(py: str, *args: str) -> None:
    proc = subprocess.run([py, str(ROOT / "blender_addon" / "demo_media.py"), *args],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"demo: {args[0]} failed: {(proc.stderr or proc.stdout).strip()[-800:]}")


def start_server(py: str, backend: str):
    """(address, LocalServer) of a model server started for the demo and ready."""
    from blender_addon.io.launcher import LocalServer

    address = free_address()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    server = LocalServer(py, address, backend=backend, cwd=str(ROOT), env=env)
    server.start()
    log(f"starting the server ({backend} backend) on {address} …")
    status = server.wait_ready(600)
    if status.state != "ready":
        server.stop()
        raise SystemExit(f"demo: {status.message}")
    log(status.message)
    return address, server


def build_shot(bpy, photo: Path, frames: int, seed: int):
    from blender_addon import demo_scene

    scene = bpy.context.scene
    st = scene.trackgo
    img = bpy.data.images.load(str(photo))
    img.name = "Astronaut"
    img.pack()
    st.reference = img
    mask = bpy.data.masks.new("Shot Mask")
    demo_scene.add_mask_layer(mask, "Shuttle", demo_scene.polygon_points(SHUTTLE, feather_px=2.0), SIZE, SIZE)
    demo_scene.add_mask_layer(mask, "Helmet", demo_scene.circle_points(*HELMET, feather_px=4.0), SIZE, SIZE)
    st.mask = mask
    st.arrows_object = demo_scene.gp_arrows_through_camera(scene, [ARROW_SHUTTLE, ARROW_HELMET], SIZE, SIZE)
    st.frames, st.fps, st.width, st.height = frames, 7, SIZE, SIZE
    st.random_seed, st.seed = False, seed
    scene.frame_current = 1
    return scene


def render_mp4(bpy, scene, strip, out: Path) -> Path:
    """The sequencer as the .blend holds it, rendered by Blender's own FFmpeg to H.264."""
    from blender_addon.blender import compat
    r = scene.render
    scene.frame_start = int(compat.strip_left(strip))
    scene.frame_end = int(compat.strip_right(strip)) - 1
    r.resolution_x = r.resolution_y = SIZE
    r.resolution_percentage = 100
    r.fps = scene.trackgo.fps
    r.use_sequencer = True
    if hasattr(r.image_settings, "media_type"):  # 5.0: video is its own media type
        r.image_settings.media_type = "VIDEO"
    r.image_settings.file_format = "FFMPEG"
    r.ffmpeg.format = "MPEG4"
    r.ffmpeg.codec = "H264"
    r.ffmpeg.constant_rate_factor = "HIGH"
    scene.view_settings.view_transform = "Standard"
    r.filepath = str(out / "trackgo_demo_")
    bpy.ops.render.render(animation=True)
    made = sorted(out.glob("trackgo_demo_*.mp4"), key=lambda p: p.stat().st_mtime)
    if not made:
        raise SystemExit("demo: Blender did not write the MP4")
    final = out / "trackgo_demo.mp4"
    made[-1].replace(final)
    return final


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m blender_addon.demo", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder (absolute)")
    ap.add_argument("--backend", default=None, help="preview (default), trackgo when weights are configured, "
                                                    "dualclock with TRACKGO_SVD_PATH alone")
    ap.add_argument("--frames", type=int, default=14, help="frames to generate (default 14)")
    ap.add_argument("--steps", type=int, default=None, help="denoising steps (default: the add-on's)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the generation")
    ap.add_argument("--previs", action="store_true", help="the blocked-3D-scene demo (blender_addon/demo_previs.py)")
    args = ap.parse_args(argv)
    if args.previs:
        from blender_addon import demo_previs
        return demo_previs.main(args)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    py = server_python()
    backend = choose_backend(args.backend)
    t_start = time.monotonic()

    photo = out / "reference.png"
    media(py, "photo", str(photo))
    log(f"photograph: {photo}")

    import bpy

    import blender_addon
    from blender_addon import demo_scene
    from blender_addon.blender import compat, preferences, session, takes

    address, server = start_server(py, backend)

    try:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        blender_addon.register()
        preferences.FALLBACK.server_address = address
        blend = out / "trackgo_demo.blend"
        scene = build_shot(bpy, photo, args.frames, args.seed)
        if args.steps:
            scene.trackgo.num_inference_steps = args.steps
        bpy.ops.wm.save_as_mainfile(filepath=str(blend))  # frames then go to //trackgo/ beside it
        st = scene.trackgo

        def state():
            return f"status={st.status!r} error={st.error!r} progress={st.progress_text!r}"

        bpy.ops.trackgo.connect()
        demo_scene.drive(lambda: st.connected or bool(st.error), 30, state)
        if not st.connected:
            raise SystemExit(f"demo: {st.error}")
        log(st.status)
        bpy.ops.trackgo.auto_pair()
        log("tracks: " + ", ".join(f"{t.name} → {st.arrows[t.arrow].label if t.arrow in st.arrows else 'no arrow'}"
                                   for t in st.tracks))
        # Each track's speed curve spans a shot of two parts: Take 1 walks half of each arrow,
        # its extension the other half (the parts share one frame).
        for i, t in enumerate(st.tracks):
            st.track_index = i
            t.timing.start_frame, t.timing.end_frame = 1, 2 * args.frames - 1
            bpy.ops.trackgo.timing_preset(preset="ease-in-out")

        bpy.ops.trackgo.preview_points()
        demo_scene.drive(lambda: scene.name in session.SESSION.plans or bool(st.error), 60, state)
        plan = session.SESSION.plans.get(scene.name)
        if plan is None:
            raise SystemExit(f"demo: no plan: {st.error}")
        plan_path = out / "plan.json"
        plan_path.write_text(json.dumps(plan))
        log(f"planned points: {sum(len(t['points']) for t in plan['tracks'])} over {plan['frames']} frames")

        session.SESSION.stats = session.TickStats()
        bpy.ops.trackgo.generate()
        demo_scene.drive(lambda: not st.busy, args.timeout, state)
        if not st.progress_text.startswith("Done"):
            raise SystemExit(f"demo: generation ended without success: {state()}")
        log(st.status)
        # Iterating: a second take with another seed, then Take 1 chosen and extended.
        st.seed = args.seed + 1
        bpy.ops.trackgo.generate()
        demo_scene.drive(lambda: not st.busy, args.timeout, state)
        scene.trackgo_take_index = 0
        bpy.ops.trackgo.take_extend()
        demo_scene.drive(lambda: not st.busy, args.timeout, state)
        if scene.trackgo_takes[-1].state != "done":
            raise SystemExit(f"demo: the extension ended without success: {state()}")
        log("takes: " + ", ".join(f"{t.name} (seed {t.seed}, {t.state})" for t in scene.trackgo_takes))
        strip = takes.strip_of(scene, scene.trackgo_takes[0])
        frames_dir = Path(bpy.path.abspath(strip.directory))
        stats = session.SESSION.stats
        bpy.ops.wm.save_mainfile()

        try:
            mp4 = render_mp4(bpy, scene, strip, out)
            made_by = "Blender's FFmpeg, from the sequencer"
        except (TypeError, RuntimeError, SystemExit) as exc:  # a bpy build without FFmpeg
            log(f"Blender could not write the MP4 ({exc}); using OpenCV in the server environment")
            mp4 = out / "trackgo_demo.mp4"
            media(py, "video", str(frames_dir), str(scene.trackgo.fps), str(mp4))
            made_by = "OpenCV, from the frames"
        bpy.ops.wm.save_mainfile()
        sheet = out / "contact_sheet.png"
        media(py, "sheet", str(photo), str(plan_path), str(frames_dir), str(sheet))
    finally:
        session.shutdown()
        if hasattr(bpy.types.Scene, "trackgo"):
            blender_addon.unregister()
        server.stop()

    worst = stats.worst_streaming_s * 1000
    times = sorted(stats.streaming_s)
    median = times[len(times) // 2] * 1000 if times else 0.0
    by_event = ", ".join(f"{k} {v * 1000:.1f}" for k, v in sorted(stats.worst_by_event.items()))
    print()
    print("TrackGo demo: done in %.1f s (%s backend)" % (time.monotonic() - t_start, backend))
    print(f"  .blend          {blend}   (sequencer: strip {strip.name!r}, channel {strip.channel}, "
          f"frames {compat.strip_left(strip)}–{compat.strip_right(strip) - 1})")
    print(f"  frames          {frames_dir}   ({len(strip.elements)} PNG)")
    print(f"  video           {mp4}   ({made_by})")
    print(f"  contact sheet   {sheet}")
    print(f"  reference       {photo}")
    print(f"  plan            {plan_path}")
    print(f"  timer callback  worst {worst:.2f} ms, median {median:.2f} ms while frames streamed "
          f"({stats.calls} calls; worst per message ms: {by_event})")
    return 0


if __name__ == "__main__":
    from blender_addon.demo_scene import run_and_exit

    run_and_exit(main)
