"""What the socket costs: one job through trackgo-server vs the same backend called in process.

Both sides do the same work: the same backend on the same validated job, frames PNG-encoded by
the same ``FrameEncoder`` pool. The socket side adds the server process, msgpack framing,
ZeroMQ transport over loopback TCP, scheduling and the client's decoding. Runs alternate
(in process, socket, in process, ...) so machine load hits both alike.

On a shared machine wall-clock times swing by tens of percent from run to run, so each socket
run is compared with the in-process run just before it (similar load) and the headline ratio
is the median of those pair ratios. The CPU seconds each side consumed (server process +
client for the socket side) are printed too: the neighbours' load does not distort them.

Prints ``name=value`` lines:
  inprocess_runs, socket_runs                every wall-clock time, in run order
  inprocess_seconds, socket_seconds          medians (wall clock)
  socket_overhead_ratio                      median of socket / in-process pair ratios
                                             (target <= 1.05 for 25 frames at 1024x576)
  inprocess_cpu_seconds, socket_cpu_seconds  CPU time per job (medians)
  socket_cpu_ratio                           socket / in process CPU time
  streamed_fps                               frames per second received through the socket (median run)
  loadavg_1min                               machine load while measuring

Usage: PYTHONPATH=. .venvs/server/bin/python benchmarks/protocol_overhead.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import shared_protocol as sp  # noqa: E402
from server.backends import JobContext, create_backend  # noqa: E402
from server.backends.base import Frame  # noqa: E402
from server.encoding import FrameEncoder  # noqa: E402
from tests.server.client import TestClient  # noqa: E402


def reference_image(width: int, height: int) -> np.ndarray:
    """A photograph if scikit-image is installed (realistic PNG sizes), else a textured gradient."""
    try:
        import cv2
        from skimage import data
        return np.ascontiguousarray(cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_AREA))
    except ImportError:
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x % 256, y % 256, (x + y) // 2 % 256], axis=-1)
        return np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)


def make_submit(frames: int, width: int, height: int) -> sp.Message:
    ref = reference_image(width, height)
    tracks = [
        sp.track([[[300, 100], [520, 100], [520, 330], [300, 330]]], [[410, 215], [600, 260]]),
        sp.track([[[600, 380], [800, 380], [800, 540], [600, 540]]], [[700, 460], [620, 400], [560, 470]]),
        sp.track([[[60, 60], [200, 60], [200, 200], [60, 200]]], [[130, 130], [150, 90]], easing="ease-in-out"),
    ]
    return sp.make_submit(sp.raw_image(ref.tobytes(), width, height, 3), tracks,
                          {"frames": frames, "width": width, "height": height, "seed": 1, "backend": "preview"})


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU time of another process (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_in_process(msg: sp.Message, encoder: FrameEncoder) -> float:
    backend = create_backend("preview")
    backend.load(lambda _text: None)
    t0 = time.perf_counter()
    job = sp.validate_job(msg.body, msg.payloads, sp.Limits())
    futures = [encoder.submit(event.rgb) for event in backend.run(job, JobContext("bench", 1))
               if isinstance(event, Frame)]
    sizes = [len(f.result()) for f in futures]
    elapsed = time.perf_counter() - t0
    assert len(sizes) == job.params.frames
    return elapsed


def run_socket(client: TestClient, msg: sp.Message) -> float:
    msg = sp.Message(type=msg.type, body=msg.body, payloads=msg.payloads)   # fresh id per run
    t0 = time.perf_counter()
    stream = client.run_job(msg, timeout=300)
    elapsed = time.perf_counter() - t0
    if stream.rejected is not None or stream.final.type != "done":
        raise SystemExit(f"socket job failed: {stream.rejected.body if stream.rejected else stream.final.body}")
    assert len(stream.frames) == msg.body["params"]["frames"]
    return elapsed


def start_server() -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "server", "--backend", "preview", "--bind", "tcp://127.0.0.1:*",
                             "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    if not line or " ready on " not in line[0]:
        proc.kill()
        raise SystemExit(f"server did not start: {line}")
    return proc, line[0].split(" ready on ", 1)[1].split()[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--frames", type=int, default=25)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=576)
    args = ap.parse_args()

    msg = make_submit(args.frames, args.width, args.height)
    encoder = FrameEncoder()
    proc, endpoint = start_server()
    client = TestClient(endpoint)
    try:
        client.hello()
        run_socket(client, msg)                 # warm-up: imports, first allocations
        run_in_process(msg, encoder)
        local, remote, local_cpu, remote_cpu = [], [], [], []
        for i in range(args.repeats):
            # Alternate which side goes first, so neither always meets the same neighbour load.
            for side in (("local", "remote") if i % 2 == 0 else ("remote", "local")):
                c0, s0 = time.process_time(), process_cpu_seconds(proc.pid)
                if side == "local":
                    local.append(run_in_process(msg, encoder))
                    local_cpu.append(time.process_time() - c0)
                else:
                    remote.append(run_socket(client, msg))
                    remote_cpu.append(time.process_time() - c0 + process_cpu_seconds(proc.pid) - s0)
        load = os.getloadavg()[0]
    finally:
        client.close()
        proc.terminate()
        proc.wait(30)
        encoder.shutdown()
    print("inprocess_runs=" + ",".join(f"{t:.2f}" for t in local))
    print("socket_runs=" + ",".join(f"{t:.2f}" for t in remote))
    cpu_local, cpu_remote = statistics.median(local_cpu), statistics.median(remote_cpu)
    inproc, sock = statistics.median(local), statistics.median(remote)
    pair_ratio = statistics.median(r / l for l, r in zip(local, remote))
    print(f"job={args.frames}x{args.width}x{args.height} backend=preview repeats={args.repeats} "
          f"encoder_threads={encoder.threads} cpus={os.cpu_count()}")
    print(f"inprocess_seconds={inproc:.3f}")
    print(f"socket_seconds={sock:.3f}")
    print(f"socket_overhead_ratio={pair_ratio:.3f}")
    print(f"inprocess_cpu_seconds={cpu_local:.3f}")
    print(f"socket_cpu_seconds={cpu_remote:.3f}")
    print(f"socket_cpu_ratio={cpu_remote / cpu_local:.3f}")
    print(f"streamed_fps={args.frames / sock:.1f}")
    print(f"loadavg_1min={load:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
