"""How long Generate and Preview Points hold Blender's main thread on a big reference.

A 4096x4096 reference with 6 mask layers and 6 arrows; a real server subprocess (preview
backend). ``--reference file`` (default): an 8-bit JPEG photo opened from disk, as an
animator's photo is (read by a separate Blender process, ``io.decode``); ``packed``: the same
photo packed into the .blend (also read by that process); ``generated``: an 8-bit image made in
Blender and never saved (Blender reads it: one ``Image.pixels`` copy in a timer call).

Each operator is called as the UI calls it, then the add-on's timer is driven as
``bpy.app.timers`` would drive it until the job is accepted (Generate) or the points arrive
(Preview Points). The figure is the longest single main-thread call among them (the operator or
one timer call), wall clock and the main thread's CPU time; ``*_max_call_cpu_ms`` is the most
CPU time any one of those calls used (what a loaded machine does not inflate).
``*_main_wait_ms`` is the longest the driving loop's main thread waited beyond its own short
sleep between calls: Python's lock held by the worker, or on a loaded machine the OS scheduler.
For comparison, ``inline_prepare_ms`` is the same job built on the calling thread (what the
operators did before: everything in one call). Target: <= 100 ms each.

Usage (from the repository root, in a Blender environment):
  PYTHONPATH=. TRACKGO_SERVER_PYTHON=.venvs/server/bin/python .venvs/blender-4.5/bin/python benchmarks/blender_block.py
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent



def build(bpy, size: int, tracks: int, reference: str, folder: Path):
    import numpy as np

    from blender_addon import demo_scene

    scene = bpy.context.scene
    st = scene.trackgo
    img = bpy.data.images.new("Photo", size, size)          # 8-bit, like a loaded JPEG/PNG
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rgba = np.stack([xs, ys, (xs + ys) / 2, np.ones_like(xs)], axis=-1)
    img.pixels.foreach_set(rgba.ravel())
    del rgba, xs, ys
    if reference != "generated":  # a photo opened from disk (its pixels decoded, as when shown)
        img.filepath_raw, img.file_format = str(folder / "photo.jpg"), "JPEG"
        img.save()
        bpy.data.images.remove(img)
        img = bpy.data.images.load(str(folder / "photo.jpg"))
        if reference == "packed":
            img.pack()
        assert tuple(img.size) == (size, size)
    st.reference = img
    mask = bpy.data.masks.new("Mask")
    arrows = []
    for i in range(tracks):
        cx, cy = size * (i + 1) / (tracks + 1), size * (0.3 if i % 2 else 0.6)
        demo_scene.add_mask_layer(mask, f"Part {i + 1}", demo_scene.circle_points(cx, cy, size * 0.05, 8.0),
                                  size, size)
        arrows.append([(cx, cy), (cx + size * 0.04, cy - size * 0.05), (cx + size * 0.08, cy)])
    st.mask = mask
    if bpy.app.version < (4, 3, 0):
        st.annotation = demo_scene.annotation_arrows(arrows, size, size)
    else:
        st.arrows_object = demo_scene.gp_arrows_through_camera(scene, arrows, size, size)
    st.frames, st.random_seed, st.seed = 3, False, 1
    return st


def timed(fn):
    t0, c0 = time.perf_counter(), time.thread_time()
    out = fn()
    return out, (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000


def block(bpy, op, until, timeout=300.0) -> tuple:
    """(longest call ms, its CPU ms, operator ms, longest timer call ms, longest wait between
    calls beyond the loop's sleep ms, most CPU ms of any one call, the operator's CPU ms) from
    ``op`` until ``until()``."""
    from blender_addon.blender import session

    _, op_ms, op_cpu = timed(op)
    worst, worst_cpu, tick_worst, wait_worst, cpu_worst = op_ms, op_cpu, 0.0, 0.0, op_cpu
    t_end = time.monotonic() + timeout
    while not until():
        if time.monotonic() > t_end:
            raise SystemExit(f"benchmark: not done after {timeout:.0f} s: {bpy.context.scene.trackgo.error}")
        delay, ms, cpu = timed(session.tick)
        tick_worst, cpu_worst = max(tick_worst, ms), max(cpu_worst, cpu)
        if ms > worst:
            worst, worst_cpu = ms, cpu
        pause = min(delay or 0.0, 0.005)
        t0 = time.perf_counter()
        time.sleep(pause)
        wait_worst = max(wait_worst, (time.perf_counter() - t0 - pause) * 1000)
    return worst, worst_cpu, op_ms, tick_worst, wait_worst, cpu_worst, op_cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--tracks", type=int, default=6)
    ap.add_argument("--reference", choices=("file", "packed", "generated"), default="file")
    args = ap.parse_args()
    import bpy

    import blender_addon
    from blender_addon import demo_scene
    from blender_addon.blender import inputs, preferences, session
    from blender_addon.io import prepare
    from blender_addon.demo import free_address
    from blender_addon.io.launcher import LocalServer

    py = os.environ.get("TRACKGO_SERVER_PYTHON") or str(ROOT / ".venvs" / "server" / "bin" / "python")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    server = LocalServer(py, free_address(), backend="preview", cwd=str(ROOT), env=env,
                         extra_args=["--log-level", "warning"])
    server.start()
    if server.wait_ready(120).state != "ready":
        raise SystemExit(server.status().message)
    out = Path(tempfile.mkdtemp(prefix="trackgo_block_"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        preferences.FALLBACK.server_address = server.address
        st = build(bpy, args.size, args.tracks, args.reference, out)
        copies = []  # main-thread Image.pixels copies of the reference (timer calls)
        real_read = session._read_reference
        session._read_reference = lambda task: (copies.append(1), real_read(task))[1]
        bpy.ops.wm.save_as_mainfile(filepath=str(out / "block.blend"))
        bpy.ops.trackgo.connect()
        demo_scene.drive(lambda: st.connected or bool(st.error), 30)
        bpy.ops.trackgo.auto_pair()
        if sum(1 for t in st.tracks if t.arrow) != args.tracks:
            raise SystemExit(f"benchmark: expected {args.tracks} paired tracks")
        scene_name = bpy.context.scene.name
        gen = block(bpy, bpy.ops.trackgo.generate, lambda: bool(session.SESSION.jobs) or not st.busy)
        demo_scene.drive(lambda: not st.busy, 300)
        if not st.progress_text.startswith("Done"):
            raise SystemExit(f"benchmark: the job did not finish: {st.progress_text} {st.error}")
        session.SESSION.plans.pop(scene_name, None)
        from blender_addon.io import decode
        decode.forget()  # Preview Points reads the reference afresh too
        pts = block(bpy, bpy.ops.trackgo.preview_points, lambda: scene_name in session.SESSION.plans)
        # The same job built in one call on this thread, as the operators used to.
        src = inputs.snapshot(bpy.context, st)
        buf = prepare.pixel_buffer(src.width, src.height)

        def inline():
            st.reference.pixels.foreach_get(buf)
            src.pixels = buf
            return prepare.prepare(src, session.SESSION.client.limits)

        job, inline_ms, _ = timed(inline)
    finally:
        session.shutdown()
        server.stop()
    print(f"reference={args.size}x{args.size} ({args.reference}) tracks={args.tracks} "
          f"output={job.framing.out_w}x{job.framing.out_h} blender={bpy.app.version_string}")
    print(f"main_thread_pixel_copies={len(copies)}")
    print(f"generate_block_ms={gen[0]:.1f}")
    print(f"generate_block_cpu_ms={gen[1]:.1f}")
    print(f"generate_operator_ms={gen[2]:.1f}")
    print(f"generate_worst_timer_call_ms={gen[3]:.1f}")
    print(f"preview_points_block_ms={pts[0]:.1f}")
    print(f"preview_points_block_cpu_ms={pts[1]:.1f}")
    print(f"preview_points_operator_ms={pts[2]:.1f}")
    print(f"preview_points_worst_timer_call_ms={pts[3]:.1f}")
    print(f"generate_operator_cpu_ms={gen[6]:.1f}")
    print(f"preview_points_operator_cpu_ms={pts[6]:.1f}")
    print(f"generate_max_call_cpu_ms={gen[5]:.1f}")
    print(f"preview_points_max_call_cpu_ms={pts[5]:.1f}")
    print(f"generate_main_wait_ms={gen[4]:.1f}")
    print(f"preview_points_main_wait_ms={pts[4]:.1f}")
    print(f"inline_prepare_ms={inline_ms:.1f}")
    print(f"loadavg_1min={os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from blender_addon.demo_scene import run_and_exit

    run_and_exit(main)
