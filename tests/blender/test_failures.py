"""Failure paths: each ends as a readable message in the panel, never a traceback."""
from __future__ import annotations

import os

import pytest
import zmq

from .conftest import (ARROW_BALL, build_scene, connect, drive, free_address,  # noqa: F401
                       start_server)

FREE_FRAMES = 3   # frames tests/blender/slow_backend.py sends before it holds a job until cancelled


def _strip_and_files(bpy):
    from blender_addon.blender import compat
    strips = list(compat.strips(bpy.context.scene.sequence_editor))
    assert len(strips) == 1
    strip = strips[0]
    folder = bpy.path.abspath(strip.directory)
    return strip, sorted(os.listdir(folder))


def refused(op, **kw) -> str:
    """Run an operator that must refuse: headless Blender turns its ERROR report into a
    RuntimeError carrying the same sentence the info area shows (no Python traceback)."""
    with pytest.raises(RuntimeError) as info:
        op(**kw)
    text = str(info.value)
    assert text.startswith("Error: ") and "Traceback" not in text
    return text


def _elements(strip):
    return [e.filename for e in strip.elements]


def test_server_down_is_reported_not_raised(build_scene):
    import bpy
    from blender_addon.blender import preferences

    build_scene()
    preferences.FALLBACK.timeout = 1.0
    st = connect(bpy, free_address())  # nothing listens there
    assert not st.connected
    assert "server unreachable at tcp://127.0.0.1:" in st.error and "no answer in 1 s" in st.error
    bpy.ops.trackgo.auto_pair()
    assert "not connected" in refused(bpy.ops.trackgo.generate)
    assert "not connected" in st.error


def test_wrong_protocol_version_is_named(build_scene):
    import bpy
    import shared_protocol as sp
    from blender_addon.blender import preferences

    build_scene()
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    try:
        preferences.FALLBACK.server_address = f"tcp://127.0.0.1:{port}"
        assert bpy.ops.trackgo.connect() == {"FINISHED"}

        def answer_as_v2():
            if router.poll(0):
                ident, *frames = router.recv_multipart()
                hello = sp.decode(frames)
                welcome = sp.make_welcome(hello.id, "future-server", [], None, sp.Limits(), 1.0)
                welcome.v = (2, 0)
                router.send_multipart([ident] + sp.encode(welcome))
            return bool(bpy.context.scene.trackgo.error)

        drive(answer_as_v2, 10)
    finally:
        router.close(0)
    st = bpy.context.scene.trackgo
    assert not st.connected
    assert "wrong protocol version" in st.error and "major version 2" in st.error


def test_cancel_keeps_received_frames_and_a_consistent_strip(build_scene, slow_server):
    import bpy
    from blender_addon.blender import compat, strips

    build_scene(frames=12)
    st = connect(bpy, slow_server.address)
    bpy.ops.trackgo.auto_pair()
    assert bpy.ops.trackgo.generate() == {"FINISHED"}

    def two_frames():
        se = bpy.context.scene.sequence_editor
        return se is not None and any(len(s.elements) >= 2 for s in compat.strips(se))

    drive(two_frames, 60)
    # Connect again (F3 finds it while connected) would orphan the job: refused, job unharmed.
    assert "still running" in refused(bpy.ops.trackgo.connect)
    assert bpy.ops.trackgo.cancel() == {"FINISHED"}
    drive(lambda: not st.busy, 30)
    strip, files = _strip_and_files(bpy)
    assert st.progress_text.startswith("Cancelled") and "frames kept" in st.status and not st.error
    assert 2 <= len(files) <= FREE_FRAMES      # the backend holds the rest until the cancel
    assert _elements(strip) == files  # the strip shows exactly the frames on disk
    assert strip[strips.PROP_STATE] == "cancelled"


def test_server_killed_mid_job_keeps_partial_frames(build_scene):
    import bpy
    from blender_addon.blender import compat, preferences, strips

    srv = start_server("tests.blender.slow_backend:create_backend", heartbeat=0.25)
    try:
        build_scene(frames=12)
        preferences.FALLBACK.timeout = 1.5
        st = connect(bpy, srv.address)
        bpy.ops.trackgo.auto_pair()
        assert bpy.ops.trackgo.generate() == {"FINISHED"}

        def some_frames():
            se = bpy.context.scene.sequence_editor
            coll = compat.strips(se) if se else []
            return any(len(s.elements) >= 3 for s in coll)

        drive(some_frames, 60)
        srv.proc.kill()
        # noticed by the heartbeat rule (no word for the 1.5 s timeout); drive's bound is generous
        drive(lambda: not st.busy, 30)
    finally:
        srv.stop()
    assert "server lost" in st.error and "frames were received and kept" in st.error
    assert not st.connected
    strip, files = _strip_and_files(bpy)
    assert len(files) == FREE_FRAMES and _elements(strip) == files
    assert strip[strips.PROP_STATE] == "failed"


def test_rejected_by_the_server_names_the_field(build_scene, server):
    import bpy

    build_scene()
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    st.backend = "no-such-backend"
    assert bpy.ops.trackgo.generate() == {"FINISHED"}  # only the server knows its backends
    drive(lambda: not st.busy, 20)
    assert st.progress_text.startswith("Rejected")
    assert "params.backend" in st.error and "no-such-backend" in st.error
    from blender_addon.blender import compat
    se = bpy.context.scene.sequence_editor
    assert se is None or len(compat.strips(se)) == 0  # no strip for a job that never ran


def test_bad_input_is_refused_before_sending_naming_the_track(build_scene, server):
    import bpy

    build_scene(arrows=(ARROW_BALL, [(190.0, 60.0), (190.0, 60.0)]))  # Box arrow has no length
    st = connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    report = refused(bpy.ops.trackgo.generate)
    assert "track 'Box'" in report
    assert "track 'Box'" in st.error and "tracks[1].arrow.points" in st.error and "degenerate" in st.error
    assert not st.busy

    st.tracks["Box"].enabled = False
    st.tracks["Ball"].arrow = ""
    refused(bpy.ops.trackgo.generate)
    assert "track 'Ball'" in st.error and "arrow" in st.error

    st.reference = None
    refused(bpy.ops.trackgo.generate)
    assert st.error.startswith("Reference:")


def test_curve_keys_connect_to_a_remote_style_server_and_unknown_keys_get_nothing(build_scene, tmp_path):
    import bpy
    import zmq.auth
    from blender_addon.blender import preferences
    from blender_addon.io.client import curve_keys

    keys, clients = tmp_path / "keys", tmp_path / "clients"
    keys.mkdir(), clients.mkdir()
    zmq.auth.create_certificates(str(keys), "server")
    zmq.auth.create_certificates(str(keys), "artist")
    zmq.auth.create_certificates(str(keys), "stranger")
    (clients / "artist.key").write_bytes((keys / "artist.key").read_bytes())
    from blender_addon.io.launcher import LocalServer

    from .conftest import ROOT, server_python
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    srv = LocalServer(server_python(), free_address(), backend="preview", cwd=str(ROOT), env=env,
                      extra_args=["--server-key", str(keys / "server.key_secret"),
                                  "--allowed-clients", str(clients), "--log-level", "warning"])
    srv.start()
    try:
        assert srv.wait_ready(60).state == "ready"
        build_scene()
        p = preferences.FALLBACK
        p.server_public_key = str(keys / "server.key")          # a key file ...
        p.client_secret_key = str(keys / "artist.key_secret")
        st = connect(bpy, srv.address)
        assert st.connected, st.error
        bpy.ops.trackgo.disconnect()
        # ... or the Z85 text itself; a client the server does not know gets no answer.
        p.server_public_key = zmq.auth.load_certificate(str(keys / "server.key"))[0].decode()
        p.client_secret_key = str(keys / "stranger.key_secret")
        p.timeout = 1.5
        st = connect(bpy, srv.address)
        assert not st.connected and "server unreachable" in st.error
    finally:
        srv.stop()
        preferences.FALLBACK.server_public_key = preferences.FALLBACK.client_secret_key = ""
    with pytest.raises(ValueError, match="server public key: expected a 40-character Z85 key"):
        curve_keys("nonsense", "", str(keys / "artist.key_secret"))
    with pytest.raises(ValueError, match="holds no secret key"):
        curve_keys(str(keys / "server.key"), "", str(keys / "artist.key"))
    assert curve_keys("") is None


def test_remote_address_respects_blenders_online_access(build_scene):
    import bpy
    from blender_addon.blender import preferences
    from blender_addon.io.client import is_loopback

    assert is_loopback("tcp://127.0.0.1:5555") and is_loopback("tcp://localhost:1") and is_loopback("ipc:///tmp/x")
    assert is_loopback("tcp://[::1]:5555") and not is_loopback("tcp://10.0.0.7:5555")
    build_scene()
    assert bpy.app.online_access is False  # the bpy module runs offline, like a fresh Blender
    preferences.FALLBACK.server_address = "tcp://gpu-host.example:5555"
    assert "online access is off" in refused(bpy.ops.trackgo.connect)
    assert "Preferences" in bpy.context.scene.trackgo.error


def test_the_addon_starts_and_stops_a_local_server(build_scene, tmp_path):
    import bpy
    from blender_addon.blender import preferences, session

    from .conftest import server_python

    build_scene()
    p = preferences.FALLBACK
    p.start_local_server, p.server_python, p.server_backend = True, server_python(), "preview"
    p.server_address = free_address()
    p.timeout = 30.0
    try:
        assert bpy.ops.trackgo.connect() == {"FINISHED"}
        st = bpy.context.scene.trackgo
        assert st.status == "Starting the local server…"
        drive(lambda: st.connected or bool(st.error), 60)
        assert st.connected, st.error
        proc = session.SESSION.server.proc
        assert proc.poll() is None
        bpy.ops.trackgo.disconnect()
        assert proc.poll() is not None and session.SESSION.server is None  # stopped with the session
        # A wrong path is one clear sentence, not a traceback.
        p.server_python = str(tmp_path / "no-such-python")
        assert "could not start" in refused(bpy.ops.trackgo.connect)
    finally:
        p.start_local_server, p.server_python = False, ""


def test_disconnect_mid_job_keeps_the_strip_equal_to_the_files(build_scene, slow_server, monkeypatch):
    """Frames still being written when the user disconnects land on disk: the strip shows them."""
    import threading

    import bpy
    from blender_addon.blender import compat, session, strips
    from blender_addon.io import frames

    real_write, real_wait = frames.FrameWriter.write, frames.BackgroundWriter.wait
    disk_free = threading.Event()

    def slow_write(self, index, *args, **kwargs):  # a slow disk: from the third frame on, a write
        if index >= 2:                              # is in flight until the add-on waits for it
            assert disk_free.wait(60), "nobody waited for the frames being written"
        return real_write(self, index, *args, **kwargs)

    def wait(self, *args, **kwargs):
        disk_free.set()
        return real_wait(self, *args, **kwargs)

    monkeypatch.setattr(frames.BackgroundWriter, "wait", wait)
    monkeypatch.setattr(frames.FrameWriter, "write", slow_write)
    build_scene(frames=12)
    st = connect(bpy, slow_server.address)
    bpy.ops.trackgo.auto_pair()
    assert bpy.ops.trackgo.generate() == {"FINISHED"}

    def writing_after_two():
        se = bpy.context.scene.sequence_editor
        jobs = list(session.SESSION.jobs.values())
        return (se is not None and any(len(s.elements) >= 2 for s in compat.strips(se))
                and any(j.writer is not None and j.writer.busy for j in jobs))

    drive(writing_after_two, 60)
    assert bpy.ops.trackgo.disconnect() == {"FINISHED"}
    strip, files = _strip_and_files(bpy)
    assert len(files) == FREE_FRAMES            # the one being written at the disconnect included
    assert _elements(strip) == files
    assert strip[strips.PROP_STATE] == "interrupted" and not st.busy
    assert "frames kept" in st.error


def test_shutdown_mid_job_leaves_a_finished_strip(build_scene, slow_server):
    """Disabling the add-on (or Reload Scripts) mid-job: the strip is marked interrupted and
    shows exactly the frames on disk, not a strip stuck 'streaming'."""
    import bpy
    from blender_addon.blender import compat, session, strips

    build_scene(frames=12)
    st = connect(bpy, slow_server.address)
    bpy.ops.trackgo.auto_pair()
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: any(len(s.elements) >= 2 for s in compat.strips(bpy.context.scene.sequence_editor)), 60)
    session.shutdown()  # what unregister() and opening another file run
    strip, files = _strip_and_files(bpy)
    assert 2 <= len(files) <= FREE_FRAMES and _elements(strip) == files
    assert strip[strips.PROP_STATE] == "interrupted" and not st.busy
    assert not session.SESSION.jobs and not session.SESSION.pending
