"""The real model server as a subprocess, started through the add-on's own launcher.

Shared by the Blender-free ``blender_addon.io`` tests (run in the server environment and in
every Blender line) and the Blender tests' fixtures; nothing here imports ``bpy``.
"""
from __future__ import annotations

import os
from pathlib import Path

from blender_addon.demo import free_address  # one way to pick a free loopback port

ROOT = Path(__file__).resolve().parents[2]


def server_python() -> str:
    py = os.environ.get("TRACKGO_SERVER_PYTHON") or str(ROOT / ".venvs" / "server" / "bin" / "python")
    if not Path(py).exists():
        raise RuntimeError(f"TRACKGO_SERVER_PYTHON: expected the server environment's python, {py} does not exist")
    return py


def start_server(backend: str = "preview", env_extra: dict | None = None, heartbeat: float = 0.5):
    from blender_addon.io.launcher import LocalServer

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    srv = LocalServer(server_python(), free_address(), backend=backend, cwd=str(ROOT), env=env,
                      extra_args=["--heartbeat-interval", str(heartbeat), "--log-level", "warning"])
    srv.start()
    status = srv.wait_ready(600)   # a bound, not a target: a loaded machine starts it slowly
    if status.state != "ready":
        srv.stop()
        raise RuntimeError(status.message)
    return srv
