"""First hour, item 10: the local server starts with a clean environment, exits when Blender
goes away, and moves to a free port when the chosen one is taken."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, build_scene, drive, free_address, server_python  # noqa: F401


@pytest.fixture
def local_prefs():
    from blender_addon.blender import preferences
    p = preferences.FALLBACK
    p.start_local_server, p.server_python, p.server_backend, p.timeout = True, server_python(), "preview", 30.0
    yield p
    p.start_local_server, p.server_python = False, ""


def _connect_local(bpy):
    assert bpy.ops.trackgo.connect() == {"FINISHED"}
    st = bpy.context.scene.trackgo
    drive(lambda: st.connected or bool(st.error), 90)
    return st


def test_the_local_server_ignores_blenders_python_path(build_scene, local_prefs, tmp_path, monkeypatch):
    import bpy
    fake = tmp_path / "blender_modules" / "numpy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('Blender numpy 1.26 loaded by the server')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))     # what Blender's environment carries
    monkeypatch.setenv("PYTHONHOME", str(tmp_path / "blender_python_home"))
    build_scene()
    local_prefs.server_address = free_address()
    st = _connect_local(bpy)
    assert st.connected, st.error


def test_a_taken_port_moves_the_local_server(build_scene, local_prefs):
    import bpy
    from blender_addon.blender import session

    build_scene()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        local_prefs.server_address = f"127.0.0.1:{port}"
        assert bpy.ops.trackgo.connect() == {"FINISHED"}
        st = bpy.context.scene.trackgo
        assert f"port {port} is in use" in st.status
        drive(lambda: st.connected or bool(st.error), 90)
        assert st.connected, st.error
        assert session.SESSION.client.address != f"tcp://127.0.0.1:{port}"


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_local_server_exits_when_blender_dies(tmp_path):
    script = tmp_path / "fake_blender.py"
    script.write_text(
        "import sys, threading\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from blender_addon.io.launcher import LocalServer\n"
        f"srv = LocalServer({server_python()!r}, {free_address()!r}, backend='preview')\n"
        "srv.start()\n"
        "print(srv.wait_ready(90).state, srv.proc.pid, flush=True)\n"
        "threading.Event().wait()\n")
    blender = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                               env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    try:
        state, pid = blender.stdout.readline().split()
        assert state == "ready"
        blender.send_signal(signal.SIGKILL)  # a crash: no atexit, no clean stop
        blender.wait(10)
        deadline = time.monotonic() + 30
        while not _gone(int(pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(int(pid)), "the server outlived the Blender that started it"
    finally:
        if blender.poll() is None:
            blender.kill()
        try:
            if not _gone(int(pid)):
                os.kill(int(pid), signal.SIGKILL)
        except (NameError, ValueError, ProcessLookupError):
            pass
