"""First hour, item 6: Generate and Preview Points do no heavy work on Blender's main thread:
the operator reads Blender data only, one timer call copies the reference pixels, and resizing,
mask rasterising and job encoding run in the add-on's worker thread. (The time each main-thread
call takes at 4096² is measured by benchmarks/blender_block.py.)"""
from __future__ import annotations

import threading

from .conftest import connect, drive  # noqa: F401
from .first_hour import scene_with_tracks


def _spy(monkeypatch, module, name, calls):
    real = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append((name, threading.current_thread() is threading.main_thread()))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)


def test_heavy_steps_run_off_the_main_thread(addon, server, monkeypatch):
    bpy = addon
    from blender_addon.blender import session
    from blender_addon.io import framing, job, raster

    scene, _ = scene_with_tracks(bpy, 1024, 768, 3)
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    calls = []
    for module, name in ((framing, "resample"), (raster, "rasterize_layer")):
        _spy(monkeypatch, module, name, calls)
    real_job_body = job.sp.job_body
    monkeypatch.setattr(job.sp, "job_body", lambda *a, **k: (calls.append(
        ("job_body", threading.current_thread() is threading.main_thread())), real_job_body(*a, **k))[1])
    reads = []
    real_read = session._read_reference
    monkeypatch.setattr(session, "_read_reference", lambda task: (reads.append(task.source.image_name),
                                                                   real_read(task))[1])
    for op, until in ((bpy.ops.trackgo.generate, lambda: not st.busy),
                      (bpy.ops.trackgo.preview_points, lambda: scene.name in session.SESSION.plans)):
        calls.clear()
        assert op() == {"FINISHED"}
        assert not any(name in ("resample", "rasterize_layer") for name, _ in calls)  # not in the operator
        drive(until, 60)
        heavy = [(n, main) for n, main in calls if n in ("resample", "rasterize_layer")]
        assert len([n for n, _ in heavy if n == "rasterize_layer"]) == 3
        assert heavy and not any(main for _, main in heavy), heavy
        # The full-size job body is built in the worker; the operator's quick check uses blanks.
        assert any(n == "job_body" and not main for n, main in calls)
    assert st.progress_text.startswith("Done"), (st.progress_text, st.error)
    assert reads == [st.reference.name] * 2  # one pixel copy per job, in a timer call of its own


def test_cancel_while_preparing_sends_nothing(addon, server, monkeypatch):
    bpy = addon
    from .first_hour import sent_messages

    sent = sent_messages(monkeypatch)
    scene_with_tracks(bpy, 512, 512, 2)
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    assert st.busy and st.progress_text.startswith("Preparing")
    assert bpy.ops.trackgo.cancel() == {"FINISHED"}  # before the timer ran: still preparing
    assert not st.busy and st.progress_text == "Cancelled before it was sent"
    from blender_addon.blender import session
    drive(lambda: not session.SESSION.preparing, 10)
    for _ in range(20):
        session.tick()
    assert sent == []


def test_the_take_is_encoded_in_the_worker_not_in_the_timer_call(addon, server, monkeypatch):
    """Recording Generate's take (zlib + SHA-256 of ~5 MB at 4096²) happens in the worker that
    built the job; the timer call that sends it only looks the encoding up, and it is the same."""
    bpy = addon
    from blender_addon.io import takes as io_takes

    scene, _ = scene_with_tracks(bpy, 512, 384, 2)
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    compress = []
    real = io_takes.zlib.compress
    monkeypatch.setattr(io_takes.zlib, "compress", lambda *a, **k: (compress.append(
        threading.current_thread() is threading.main_thread()), real(*a, **k))[1])
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: not st.busy, 60)
    assert st.progress_text.startswith("Done"), (st.progress_text, st.error)
    assert compress == [False] * 3       # reference + 2 masks, in the worker
    record = io_takes.from_text(scene.trackgo_takes[0].record)
    assert len(record.payloads) == 3 and record.reference_hash == io_takes.content_hash(record.payloads[0])
