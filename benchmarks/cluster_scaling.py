"""Cluster mode against the single-process server, side by side in one run, on preview jobs.

* ``gateway_overhead_ratio`` = wall time of N jobs through the front on ONE Ray replica divided by
  the same N jobs on the single-process server (one device thread): the price of the Ray hop
  (target <= 1.15);
* ``replica_scaling`` = jobs per second with 2 replicas / with 1 (target >= 1.5 on two cores:
  the jobs are sized so the preview work, not the front, dominates);
* ``cluster_jobs_lost`` = jobs, over every cluster run, that did not end with exactly one final
  message and every frame (target 0).

A local Ray is started once (small: 2 CPUs, 100 MiB object store) and stopped at the end.
The default jobs (8 jobs of 25 frames at 1024x576, textured reference) make each frame cost the
preview ~80-90 ms of one core, nearly all of it the lossless PNG encoding, against a few ms the
front and the Ray hop add per frame: the work, not the front, dominates (at 512x320 and 12
frames, the earlier defaults, the fixed costs weighed four times as much). Before timing, one
job per device thread / replica warms each of them.

    PYTHONPATH=. .venvs/server/bin/python benchmarks/cluster_scaling.py [--jobs 8] [--frames 25] [--rounds 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np

import shared_protocol as sp
from server.cli import start
from server.config import ServerConfig
from tests.server.client import TestClient


def preview_job(frames: int, width: int, height: int, seed: int) -> sp.Message:
    """A textured reference with two tracks: enough for the preview backend to do real work."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([(x * 255 // width), (y * 255 // height), ((x + y) % 256)], -1).astype(np.uint8)
    rgb = np.clip(rgb.astype(int) + rng.integers(-20, 21, rgb.shape), 0, 255).astype(np.uint8)
    reference = sp.raw_image(rgb.tobytes(), width, height, 3)
    tracks = [sp.track([[[40, 40], [140, 40], [140, 140], [40, 140]]], [[90, 90], [200, 130]]),
              sp.track([[[260, 160], [360, 160], [360, 240], [260, 240]]], [[310, 200], [220, 150]])]
    return sp.make_submit(reference, tracks, {"frames": frames, "width": width, "height": height, "seed": seed})


def run_jobs(cfg: ServerConfig, jobs: int, frames: int, width: int, height: int, slots: int = 1) -> tuple[float, int]:
    """(seconds from first submit to last final, jobs lost) for ``jobs`` jobs from two clients.

    Before the clock starts, one small job per slot (device thread or replica) at once, so every
    place that runs jobs has paid its first-job costs (imports, first OpenCV calls)."""
    service = start(cfg)
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    service.ready.wait(60)
    clients = [TestClient(service.endpoint) for _ in range(2)]
    try:
        for c in clients:
            c.hello()
        warm = [clients[0].submit(preview_job(2, width, height, 1 + i)) for i in range(slots)]
        clients[0].wait_all(warm, 300)
        t0 = time.perf_counter()
        streams = [(c, c.submit(preview_job(frames, width, height, 100 + i)))
                   for i, c in enumerate(clients * (jobs // 2))]
        deadline = time.monotonic() + 600
        while not all(s.finished for _, s in streams) and time.monotonic() < deadline:
            for c in clients:          # read both: a client left unread for 30 s is dropped as silent
                c.recv(0.02)
        seconds = time.perf_counter() - t0
        lost = 0
        for _, s in streams:
            finals = [m for m in s.messages if m.type in sp.FINAL_TYPES]
            if len(finals) != 1 or finals[0].type != "done" or len(s.frames) != frames:
                lost += 1
                what = s.rejected.body if s.rejected else [(m.type, m.body) for m in finals]
                print(f"# lost job: {len(s.frames)} frames, {what}", file=sys.stderr)
        return seconds, lost
    finally:
        for c in clients:
            c.close()
        service.request_stop()
        thread.join(120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--frames", type=int, default=25)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=576)
    ap.add_argument("--rounds", type=int, default=1, help="measure the three servers this many times over")
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    ray.init(address="local", num_cpus=2, object_store_memory=100 * 1024 * 1024, include_dashboard=False,
             log_to_driver=False)
    base = dict(bind="tcp://127.0.0.1:*", backend="preview", log_level="warning", queue_length=64,
                client_quota=32, encoder_threads=1)
    cluster = dict(base, cluster="ray", cluster_gpus_per_replica=0, cluster_cpus_per_replica=0.5)
    size = (args.jobs, args.frames, args.width, args.height)
    print(f"jobs={args.jobs} frames={args.frames} size={args.width}x{args.height} "
          f"load_avg_before={open('/proc/loadavg').read().split()[0]}", flush=True)
    lost = 0
    try:
        for r in range(args.rounds):
            local_s, _ = run_jobs(ServerConfig(**base, device="cpu"), *size)
            one_s, lost1 = run_jobs(ServerConfig(**cluster, cluster_replicas=1), *size)
            two_s, lost2 = run_jobs(ServerConfig(**cluster, cluster_replicas=2), *size, slots=2)
            lost += lost1 + lost2
            tag = f"round {r + 1}: " if args.rounds > 1 else ""
            print(f"# {tag}load_avg_1min={os.getloadavg()[0]:.2f}", flush=True)
            print(f"local_seconds={local_s:.2f}")
            print(f"cluster_1_replica_seconds={one_s:.2f}")
            print(f"cluster_2_replicas_seconds={two_s:.2f}")
            print(f"gateway_overhead_ratio={one_s / local_s:.3f}")
            print(f"replica_scaling={(args.jobs / two_s) / (args.jobs / one_s):.3f}", flush=True)
    finally:
        from ray import serve
        serve.shutdown()
        ray.shutdown()
    print(f"cluster_jobs_lost={lost}")


if __name__ == "__main__":
    main()
