"""Big references from a file (or packed) are read by a separate Blender process (issue 16,
item 6): Blender's main thread makes no pixel copy at all, and the job is the same, byte for byte,
as the one built from ``Image.pixels``. (Here the size threshold is lowered so small test images
take that path; benchmarks/blender_block.py measures it at 4096².)"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from .conftest import connect, drive  # noqa: F401
from .first_hour import scene_with_tracks


def _photo(bpy, scene, tmp_path, packed=False, fmt="PNG", ext="png", float_buffer=False):
    """The scene's reference saved to a file and loaded back, as an opened photo is."""
    st = scene.trackgo
    made = st.reference
    if float_buffer:
        made = bpy.data.images.new("Float", *made.size, float_buffer=True)
        rgba = np.zeros(made.size[0] * made.size[1] * 4, np.float32)
        st.reference.pixels.foreach_get(rgba)
        made.pixels.foreach_set(rgba * 3.0)  # scene-linear values above 1 survive
    path = tmp_path / f"photo.{ext}"
    made.filepath_raw, made.file_format = str(path), fmt
    made.save()
    img = bpy.data.images.load(str(path), check_existing=False)
    if packed:
        img.pack()
    st.reference = img
    return img


def _spy_sends(monkeypatch):
    from blender_addon.io import client as io_client

    sent = []
    real = io_client.Client.send

    def spy(self, msg):
        if msg.type in ("submit", "plan"):
            sent.append((msg.type, [bytes(p) for p in msg.payloads]))
        return real(self, msg)

    monkeypatch.setattr(io_client.Client, "send", spy)
    return sent


def _spy(monkeypatch, module, name, calls):
    real = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)


@pytest.mark.parametrize("packed", [False, True], ids=["file", "packed"])
def test_big_reference_is_read_off_blender_and_the_job_is_the_same(addon, server, tmp_path, monkeypatch, packed):
    bpy = addon
    from blender_addon.blender import reference_file, session
    from blender_addon.io import decode

    decode.forget()
    scene, _ = scene_with_tracks(bpy, 256, 128, 2)
    _photo(bpy, scene, tmp_path, packed=packed)
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    sent = _spy_sends(monkeypatch)
    reads, copies, runs = [], [], []
    _spy(monkeypatch, decode, "read", reads)
    _spy(monkeypatch, session, "_read_reference", copies)
    _spy(monkeypatch, decode.subprocess, "Popen", runs)
    monkeypatch.setattr(reference_file, "IN_PROCESS_MAX_PIXELS", 0)
    assert bpy.ops.trackgo.preview_points() == {"FINISHED"}
    drive(lambda: scene.name in session.SESSION.plans, 120)
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: not st.busy, 120)
    assert st.progress_text.startswith("Done"), (st.progress_text, st.error)
    assert reads == [False, False] and copies == []   # in the worker; no main-thread pixel copy
    assert len(runs) == 1                             # one process: Generate reused what Points read
    # The same job read the usual way (one Image.pixels copy in a timer call).
    monkeypatch.setattr(reference_file, "IN_PROCESS_MAX_PIXELS", 1 << 40)
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: not st.busy, 120)
    assert copies == [True] and len(reads) == 2
    (kind1, via_file), (kind2, via_pixels) = [s for s in sent if s[0] == "submit"]
    assert via_file[0] == via_pixels[0]               # the reference payload: identical
    assert via_file == via_pixels                     # and the masks


@pytest.mark.parametrize("float_buffer", [False, True], ids=["8-bit PNG", "float EXR"])
def test_the_process_gives_exactly_what_image_pixels_gives(addon, tmp_path, float_buffer):
    bpy = addon
    from blender_addon.blender import capture, reference_file
    from blender_addon.io import decode

    decode.forget()
    scene, _ = scene_with_tracks(bpy, 96, 64, 1)
    fmt, ext = ("OPEN_EXR", "exr") if float_buffer else ("PNG", "png")
    img = _photo(bpy, scene, tmp_path, fmt=fmt, ext=ext, float_buffer=float_buffer)
    reference_file.IN_PROCESS_MAX_PIXELS, saved = 0, reference_file.IN_PROCESS_MAX_PIXELS
    try:
        ref = reference_file.file_reference(img)
    finally:
        reference_file.IN_PROCESS_MAX_PIXELS = saved
    assert ref is not None and ref.is_float == float_buffer
    got = decode.read(ref)
    want, w, h = capture.image_pixels(img)
    if float_buffer:
        assert got.dtype == np.float32 and np.array_equal(got, want) and want.max() > 1.0
    else:
        assert got.dtype == np.uint8 and np.array_equal(got, np.rint(want * 255).astype(np.uint8))
    from blender_addon.io import prepare
    assert np.array_equal(prepare.reference_srgb8(got, w, h, img.is_float),
                          prepare.reference_srgb8(want, w, h, img.is_float))


def test_blender_reads_it_when_the_process_cannot(addon, server, tmp_path, monkeypatch):
    bpy = addon
    from blender_addon.blender import reference_file, session
    from blender_addon.io import decode

    decode.forget()
    scene, _ = scene_with_tracks(bpy, 256, 128, 2)
    _photo(bpy, scene, tmp_path)
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    copies = []
    _spy(monkeypatch, session, "_read_reference", copies)
    monkeypatch.setattr(reference_file, "IN_PROCESS_MAX_PIXELS", 0)
    monkeypatch.setattr(reference_file, "blender_command", lambda: (str(tmp_path / "no-blender"), "-c"))
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: not st.busy, 120)
    assert st.progress_text.startswith("Done"), (st.progress_text, st.error)
    assert copies == [True]


def test_only_unmodified_file_images_above_the_threshold_go_to_the_process(addon, tmp_path, monkeypatch):
    bpy = addon
    from blender_addon.blender import reference_file

    scene, _ = scene_with_tracks(bpy, 96, 64, 1)
    generated = scene.trackgo.reference
    img = _photo(bpy, scene, tmp_path)
    assert reference_file.file_reference(img) is None            # small: Blender copies it quickly
    monkeypatch.setattr(reference_file, "IN_PROCESS_MAX_PIXELS", 0)
    assert reference_file.file_reference(img).path == str(tmp_path / "photo.png")
    assert reference_file.file_reference(bpy.data.images.new("Blank", 96, 64)) is None   # generated
    img.pixels.foreach_set(np.zeros(96 * 64 * 4, np.float32))     # painted, not saved
    assert img.is_dirty and reference_file.file_reference(img) is None
    assert generated is not None


def test_stopping_the_add_on_stops_a_read_under_way(addon, server, tmp_path, monkeypatch):
    """Quitting Blender (or disabling the add-on) never waits for the separate process."""
    import sys

    bpy = addon
    from blender_addon.blender import reference_file, session
    from blender_addon.io import decode

    decode.forget()
    scene, _ = scene_with_tracks(bpy, 256, 128, 1)
    _photo(bpy, scene, tmp_path)
    connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    monkeypatch.setattr(reference_file, "IN_PROCESS_MAX_PIXELS", 0)
    monkeypatch.setattr(reference_file, "blender_command",
                        lambda: (sys.executable, "-c", "import time; time.sleep(120)"))  # never done
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: bool(decode._running), 60)
    (proc,) = list(decode._running)
    session.shutdown()
    assert proc.wait(timeout=30) != 0     # killed, not left to run
    drive(lambda: not decode._running, 30)
