"""The dual-clock settings in the add-on: plain names and tooltips, defaults from the protocol,
sent with the job; and the demo's dualclock route on the tiny random SVD."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from blender_addon.protocol import sp

from .conftest import ROOT, addon, build_scene, server_python  # noqa: F401  (fixtures)


def test_settings_have_plain_words_and_protocol_defaults(addon):
    props = addon.types.Scene.bl_rna.properties["trackgo"].fixed_type.properties
    assert "how free the background is" in props["dual_clock_weak"].description
    assert "how strictly the painted parts follow the arrows" in props["dual_clock_strong"].description
    for name in ("dual_clock_weak", "dual_clock_strong", "background_follow"):
        assert abs(props[name].default - sp.messages.DEFAULT_PARAMS[name]) < 1e-6, name


def test_the_job_carries_the_settings(build_scene):
    import bpy

    from blender_addon.blender import inputs, operators

    scene = build_scene()
    st = scene.trackgo
    st.dual_clock_weak, st.dual_clock_strong, st.background_follow = 0.2, 0.6, 0.5
    bpy.ops.trackgo.auto_pair()
    body = operators.build_now(bpy.context).body
    for name, value in (("dual_clock_weak", 0.2), ("dual_clock_strong", 0.6), ("background_follow", 0.5)):
        assert abs(body["params"][name] - value) < 1e-6, name
    assert inputs.generation_params(st)["dual_clock_strong"] == st.dual_clock_strong


@pytest.mark.slow
@pytest.mark.timeout(3600)   # bounds, not targets: on a loaded machine building the tiny model alone took > 300 s
def test_demo_runs_the_dualclock_backend_on_the_tiny_svd(tmp_path):
    """`dev.py demo --backend dualclock` with TRACKGO_SVD_PATH: the same route, on the tiny model."""
    tiny = tmp_path / "tiny"
    subprocess.run([server_python(), "-c", "import sys; from server.trackgo.tiny import create_tiny_model; "
                    "create_tiny_model(sys.argv[1])", str(tiny)], cwd=str(ROOT), check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, timeout=1200)
    out = tmp_path / "demo"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRACKGO_SERVER_PYTHON=server_python(),
               TRACKGO_SVD_PATH=str(tiny / "svd"), TRACKGO_DEVICE="cpu")
    env.pop("TRACKGO_ADAPTER_PATH", None)
    proc = subprocess.run([sys.executable, "-m", "blender_addon.demo", "--out", str(out), "--frames", "3",
                           "--steps", "2", "--backend", "dualclock"],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=2000)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "(dualclock backend)" in proc.stdout
    takes = sorted(p for p in (out / "trackgo" / "Scene").iterdir() if p.is_dir())
    assert len(takes) >= 2, takes   # the demo makes two takes, then extends the first
    for take in takes:
        names = [f.name for f in sorted(take.glob("*.png"))]
        assert names[:3] == ["0001.png", "0002.png", "0003.png"], (take, names)


def test_demo_refuses_dualclock_without_an_svd_folder(monkeypatch):
    from blender_addon import demo

    monkeypatch.delenv("TRACKGO_SVD_PATH", raising=False)
    with pytest.raises(SystemExit, match="TRACKGO_SVD_PATH"):
        demo.choose_backend("dualclock")
