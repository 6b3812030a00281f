"""How long the add-on's timer callback holds Blender's main thread while frames stream.

A real server subprocess (preview backend) generates 25 frames at 1024x576 from the astronaut
photograph with two tracks; the add-on (in the PyPI ``bpy`` module) is driven exactly as
``bpy.app.timers`` would drive it. Two runs side by side in one process:

* ``background``: frames written on the add-on's disk thread (what ships);
* ``inline``: the same writes done inside the timer call (the design it replaced).

Prints ``name=value`` lines: per mode the worst / 95th percentile / median milliseconds of the
timer calls that handled a frame (wall clock), the worst / 95th percentile of the same calls in
the main thread's CPU time (the work the call did, without the time the OS gave the cores to the
server generating beside it on this 2-core machine), their count, the frames per second that
reached the strip, and the inline / background ratios. Target: under 5 ms while frames stream.

Usage (from the repository root, in a Blender environment):
  PYTHONPATH=. TRACKGO_SERVER_PYTHON=.venvs/server/bin/python .venvs/blender-4.5/bin/python benchmarks/blender_timer.py
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
W, H = 1024, 576


class InlineExecutor:
    """Runs each write at once, on the calling (timer) thread."""

    def submit(self, fn, *args):
        fut = Future()
        try:
            fut.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - reported through the future like the real pool
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait=True):
        pass



def photo(py: str, out: Path) -> Path:
    import subprocess
    path = out / "reference.png"
    subprocess.run([py, str(ROOT / "blender_addon" / "demo_media.py"), "photo", str(path)], check=True)
    return path


def run(mode: str, address: str, ref_png: Path, out: Path, frames: int) -> dict:
    import bpy
    import numpy as np

    import blender_addon
    from blender_addon import demo_scene
    from blender_addon.blender import compat, preferences, session

    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        preferences.FALLBACK.server_address = address
        scene = bpy.context.scene
        st = scene.trackgo
        src = bpy.data.images.load(str(ref_png))
        rgba = np.empty(src.size[0] * src.size[1] * 4, np.float32)
        src.pixels.foreach_get(rgba)
        rgba = rgba.reshape(src.size[1], src.size[0], 4)[::-1]
        rows = (np.arange(H) * src.size[1] / H).astype(int)
        cols = (np.arange(W) * src.size[0] / W).astype(int)
        st.reference = demo_scene.image_from_rgba("Reference", rgba[rows][:, cols])
        mask = bpy.data.masks.new("Mask")
        demo_scene.add_mask_layer(mask, "A", demo_scene.circle_points(300, 300, 90, 4), W, H)
        demo_scene.add_mask_layer(mask, "B", demo_scene.square_points(700, 200, 850, 400), W, H)
        st.mask = mask
        st.arrows_object = demo_scene.gp_arrows_through_camera(
            scene, [[(300, 300), (380, 280), (450, 300)], [(775, 300), (775, 420)]], W, H)
        st.frames, st.width, st.height, st.random_seed, st.seed = frames, W, H, False, 1
        bpy.ops.wm.save_as_mainfile(filepath=str(out / f"{mode}.blend"))
        bpy.ops.trackgo.connect()
        demo_scene.drive(lambda: st.connected or bool(st.error), 30)
        bpy.ops.trackgo.auto_pair()
        session.SESSION.stats = session.TickStats()
        if mode == "inline":
            session.SESSION.io_pool = InlineExecutor()
        t0 = time.monotonic()
        bpy.ops.trackgo.generate()
        demo_scene.drive(lambda: not st.busy, 300)
        secs = time.monotonic() - t0
        if not st.progress_text.startswith("Done"):
            raise SystemExit(f"benchmark: the job did not finish: {st.progress_text} {st.error}")
        strip = list(compat.strips(scene.sequence_editor))[0]
        times = sorted(session.SESSION.stats.streaming_s)
        cpu = sorted(session.SESSION.stats.streaming_cpu_s)
        return {"worst_ms": times[-1] * 1000, "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
                "cpu_worst_ms": cpu[-1] * 1000, "cpu_p95_ms": cpu[int(0.95 * (len(cpu) - 1))] * 1000,
                "median_ms": times[len(times) // 2] * 1000, "calls": len(times),
                "frames": len(strip.elements), "fps": len(strip.elements) / secs}
    finally:
        session.shutdown()
        blender_addon.unregister()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=2, help="alternating runs per mode")
    args = ap.parse_args()
    from blender_addon.demo import free_address
    from blender_addon.io.launcher import LocalServer

    py = os.environ.get("TRACKGO_SERVER_PYTHON") or str(ROOT / ".venvs" / "server" / "bin" / "python")
    out = Path(tempfile.mkdtemp(prefix="trackgo_timer_"))
    ref = photo(py, out)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    server = LocalServer(py, free_address(), backend="preview", cwd=str(ROOT), env=env,
                         extra_args=["--log-level", "warning"])
    server.start()
    status = server.wait_ready(120)
    if status.state != "ready":
        raise SystemExit(status.message)
    results = {"background": [], "inline": []}
    try:
        for _ in range(args.repeats):
            for mode in ("background", "inline"):
                results[mode].append(run(mode, server.address, ref, out, args.frames))
    finally:
        server.stop()
    print(f"frames={args.frames}")
    print(f"size={W}x{H}")
    for mode, runs in results.items():
        worst = max(r["worst_ms"] for r in runs)
        print(f"{mode}_timer_worst_ms={worst:.2f}")
        print(f"{mode}_timer_p95_ms={max(r['p95_ms'] for r in runs):.2f}")
        print(f"{mode}_timer_median_ms={sorted(r['median_ms'] for r in runs)[len(runs) // 2]:.2f}")
        print(f"{mode}_timer_cpu_worst_ms={max(r['cpu_worst_ms'] for r in runs):.2f}")
        print(f"{mode}_timer_cpu_p95_ms={max(r['cpu_p95_ms'] for r in runs):.2f}")
        print(f"{mode}_frame_calls={sum(r['calls'] for r in runs)}")
        print(f"{mode}_strip_fps={sorted(r['fps'] for r in runs)[len(runs) // 2]:.1f}")
    ratio = max(r["worst_ms"] for r in results["inline"]) / max(r["worst_ms"] for r in results["background"])
    print(f"inline_over_background_worst_ratio={ratio:.2f}")
    cpu_ratio = (max(r["cpu_worst_ms"] for r in results["inline"])
                 / max(r["cpu_worst_ms"] for r in results["background"]))
    print(f"inline_over_background_cpu_worst_ratio={cpu_ratio:.2f}")
    print(f"loadavg_1min={os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from blender_addon.demo_scene import run_and_exit

    run_and_exit(main)
