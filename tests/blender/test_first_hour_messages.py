"""First hour, item 9: messages say the real cause first."""
from __future__ import annotations

import os
import stat

import pytest

from .conftest import build_scene, connect, drive  # noqa: F401  (fixtures)


def test_an_address_without_tcp_is_the_local_server_it_names(build_scene, server):
    import bpy
    from blender_addon.io.client import normalize_address

    build_scene()
    port = server.address.rsplit(":", 1)[1]
    st = connect(bpy, f"127.0.0.1:{port}")  # was: "a remote server and online access is off"
    assert st.connected, st.error
    assert normalize_address(" localhost:5555 ") == "tcp://localhost:5555"
    with pytest.raises(ValueError, match=r"server address: expected host:port or tcp://host:port.*'nowhere'"):
        normalize_address("nowhere")


def test_a_failed_local_server_says_its_cause_first(tmp_path):
    from blender_addon.io.launcher import LocalServer

    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\n"
                    "echo 'trackgo-server: error: backend trackgo could not load: numpy 1.26 is too old "
                    "(expected numpy >= 2)' >&2\n"
                    + "".join(f"echo '/x/torch/__init__.py:{i}: UserWarning: something about CUDA' >&2\n"
                              "echo '  warnings.warn(msg)' >&2\n" for i in range(5))
                    + "exit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    srv = LocalServer(str(fake), "tcp://127.0.0.1:1", env=dict(os.environ))
    srv.start()
    try:
        status = srv.wait_ready(30)
    finally:
        srv.stop()
    assert status.state == "failed"
    assert status.message.startswith("local server exited with code 1: backend trackgo could not load: "
                                     "numpy 1.26 is too old"), status.message
    assert "UserWarning" not in status.message
