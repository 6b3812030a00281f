"""A server killed and restarted on the same address within the dead-server time: the add-on
learns it from the new instance id, ends the job as interrupted on its strip (frames kept) and
reconnects on its own. Without the instance id the new server's pongs would hide the loss."""
from __future__ import annotations

import os

from .conftest import ROOT, build_scene, connect, drive, server_python, start_server  # noqa: F401


def restart_on(address: str):
    from blender_addon.io.launcher import LocalServer

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    srv = LocalServer(server_python(), address, backend="tests.blender.slow_backend:create_backend",
                      cwd=str(ROOT), env=env, extra_args=["--heartbeat-interval", "0.25", "--log-level", "warning"])
    srv.start()
    assert srv.wait_ready(600).state == "ready"     # a bound: a loaded machine starts it slowly
    return srv


def test_server_restarted_mid_job_ends_it_interrupted(build_scene):
    import bpy
    from blender_addon.blender import compat, strips

    first = start_server("tests.blender.slow_backend:create_backend", heartbeat=0.25)
    second = None
    try:
        build_scene(frames=12)
        st = connect(bpy, first.address)
        # The client's clock stands still while the server restarts: on a loaded machine a new
        # server process takes longer than the dead-server time (2 s), which this test is not about.
        import time

        from blender_addon.blender.session import SESSION
        paused = {"at": None, "total": 0.0}
        SESSION.client.clock = lambda: (paused["at"] if paused["at"] is not None else time.monotonic()) \
            - paused["total"]
        bpy.ops.trackgo.auto_pair()
        assert bpy.ops.trackgo.generate() == {"FINISHED"}

        def some_frames():
            se = bpy.context.scene.sequence_editor
            return any(len(s.elements) >= 2 for s in (compat.strips(se) if se else []))

        drive(some_frames, 300)
        paused["at"] = time.monotonic()
        first.proc.kill()
        first.proc.wait(10)
        second = restart_on(first.address)
        paused["total"] += time.monotonic() - paused["at"]
        paused["at"] = None
        drive(lambda: not st.busy, 300)
        drive(lambda: st.connected, 300)     # it said hello to the new server on its own
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert "server restarted" in st.error and "frames kept" in st.error, st.error
    (strip,) = list(compat.strips(bpy.context.scene.sequence_editor))
    assert strip[strips.PROP_STATE] == "interrupted"
    assert 2 <= len(strip.elements) < 12
