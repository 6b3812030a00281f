"""Frame writer (atomic, refuses partial PNGs), job building, local server launcher."""
from __future__ import annotations

import os
import struct
import sys
import zlib

import numpy as np
import pytest

from blender_addon.io import job as io_job
from blender_addon.io.frames import FrameWriter, check_png, frame_filename, safe_name
from blender_addon.io.launcher import LocalServer


def tiny_png(w=4, h=2) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + bytes(range(w * 3)) for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_frames_are_written_whole_and_numbered_from_one(tmp_path):
    w = FrameWriter(tmp_path, "My Shot!", "job/1")
    assert w.folder == tmp_path / "My_Shot" / "job_1"
    png = tiny_png()
    assert w.write(0, png).name == "0001.png"
    w.write(2, png)
    assert w.contiguous_count() == 1  # a gap: the strip may only show frame 1
    w.write(1, png)
    assert w.contiguous_count() == 3
    assert sorted(os.listdir(w.folder)) == ["0001.png", "0002.png", "0003.png"]
    assert (w.folder / "0002.png").read_bytes() == png
    assert frame_filename(41) == "0042.png" and safe_name("") == "shot"
    assert check_png(png, 4, 2) == (4, 2)


def test_frame_bytes_reach_the_disk_before_the_final_name(tmp_path, monkeypatch):
    """Atomic across a power cut too: fsync of the temporary file, then the rename."""
    from blender_addon.io import frames

    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(frames.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(frames.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    FrameWriter(tmp_path, "shot", "job").write(0, tiny_png())
    assert calls == ["fsync", "replace"]


def test_background_writer_writes_off_the_calling_thread_in_order(tmp_path):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from blender_addon.io.frames import BackgroundWriter

    threads = []
    inner = FrameWriter(tmp_path, "s", "j")
    real_write = inner.write

    def spy(index, data, size=None):
        threads.append(threading.current_thread().name)
        return real_write(index, data, size)

    inner.write = spy
    with ThreadPoolExecutor(1, thread_name_prefix="disk") as pool:
        bw = BackgroundWriter(inner, pool)
        for i in range(5):
            bw.submit(i, tiny_png(), (4, 2))
        with pytest.raises(ValueError, match="truncated"):
            bw.submit(5, tiny_png()[:-3])  # refused at once, never queued
        bw.wait()
        done = bw.collect()
    assert [i for i, exc in done] == [0, 1, 2, 3, 4] and all(exc is None for _, exc in done)
    assert all(name.startswith("disk") for name in threads) and not bw.busy
    assert bw.contiguous_count() == 5


def test_truncated_or_foreign_bytes_are_refused_and_leave_nothing(tmp_path):
    w = FrameWriter(tmp_path, "s", "j")
    png = tiny_png()
    for bad, why in ((png[:-5], "truncated"), (b"GIF89a" + png, "signature"), ("text", "PNG bytes"),
                     (png[:40], "complete PNG")):
        with pytest.raises(ValueError, match=why):
            w.write(0, bad)
    with pytest.raises(ValueError, match="PNG is 4x2, the message says 8x2"):
        w.write(0, png, (8, 2))
    assert not w.folder.exists() or os.listdir(w.folder) == []
    assert w.contiguous_count() == 0


def test_job_is_built_by_the_protocol_and_checked_locally():
    ref = np.zeros((64, 128, 3), np.uint8)
    mask = np.zeros((64, 128), np.uint8)
    mask[10:20, 10:20] = 200
    mask[30, 30] = 100  # below half coverage: outside
    tr = io_job.TrackInput("Ball", mask, np.array([[15, 15], [40, 15]]), "ease-in")
    body, payloads = io_job.build_job(ref, [tr], {"frames": 8, "seed": np.int64(3), "width": 128, "height": 64})
    assert body["tracks"][0]["name"] == "Ball" and body["tracks"][0]["easing"] == "ease-in"
    assert body["params"] == {"frames": 8, "seed": 3, "width": 128, "height": 64}
    m = np.frombuffer(payloads[1], np.uint8).reshape(64, 128)
    assert m.sum() == 100 * 255 and m[30, 30] == 0
    with pytest.raises(io_job.JobInputError, match="track 'Ball': mask is empty"):
        io_job.build_job(ref, [io_job.TrackInput("Ball", mask * 0, tr.arrow)], {})
    with pytest.raises(io_job.JobInputError, match=r"track 'Ball': mask is 64x32, expected the reference size 128x64"):
        io_job.build_job(ref, [io_job.TrackInput("Ball", mask[:32, :64], tr.arrow)], {})
    with pytest.raises(io_job.JobInputError, match=r"track 'Ball' \(tracks\[0\]\.easing\)"):
        io_job.build_job(ref, [io_job.TrackInput("Ball", mask, tr.arrow, "bouncy")], {})
    with pytest.raises(io_job.JobInputError, match=r"params\.frames"):
        io_job.build_job(ref, [tr], {"frames": 1})
    with pytest.raises(io_job.JobInputError, match="reference"):
        io_job.build_job(ref.astype(np.float32), [tr], {})


def test_launcher_reports_a_server_that_cannot_start(tmp_path):
    with pytest.raises(RuntimeError, match="could not start"):
        LocalServer(str(tmp_path / "no-python"), "tcp://127.0.0.1:1").start()
    with pytest.raises(ValueError, match="server python"):
        LocalServer("", "tcp://127.0.0.1:1")
    # A python without the server package exits: reported with its exit code and last words.
    # (The base interpreter: the server environment's own python has the package installed.)
    bare_python = getattr(sys, "_base_executable", None) or sys.executable
    srv = LocalServer(bare_python, "tcp://127.0.0.1:1", cwd=str(tmp_path),
                      env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path)})
    srv.start()
    status = srv.wait_ready(20)
    srv.stop()
    assert status.state == "failed" and "exited with code 1" in status.message and "server" in status.message


def test_launcher_is_not_fooled_by_lines_that_merely_say_ready(tmp_path):
    # "Address already in use" and a backend's "preview backend ready" log line both contain
    # "ready"; only the server's own listening line may make the launcher report ready.
    fake = tmp_path / "server"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        "import sys, time\n"
        "print('preview backend ready (CPU, no model weights)', flush=True)\n"
        "print('error: Address already in use', flush=True)\n"
        "time.sleep(30)\n")
    srv = LocalServer(sys.executable, "tcp://127.0.0.1:1", cwd=str(tmp_path),
                      env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path)})
    srv.start()
    try:
        status = srv.wait_ready(1.5)
        assert status.state == "failed" and "not ready after" in status.message, status
        assert any("already in use" in line for line in srv.lines)
    finally:
        srv.stop()


def test_launcher_starts_and_stops_the_real_server(server):
    status = server.status()
    assert status.state == "ready" and server.address in status.message
    assert server.proc.poll() is None
