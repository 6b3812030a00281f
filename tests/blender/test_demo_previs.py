"""``python3 dev.py demo --previs``: a blocked 3D scene drives the motion; ObjMC within 2 px."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import ROOT, server_python


@pytest.mark.slow
def test_previs_demo_follows_the_projected_proxy_path(tmp_path):
    out = tmp_path / "previs"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRACKGO_SERVER_PYTHON=server_python())
    proc = subprocess.run([sys.executable, "-m", "blender_addon.demo", "--previs", "--out", str(out)],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("objmc_px=")][-1]
    objmc = float(line.split("=", 1)[1])
    points = np.load(out / "proxy_points.npy")
    travelled = np.linalg.norm(points[:, -1] - points[:, 0], axis=-1).min()
    assert travelled > 50                      # the proxy really moved across the plate
    assert objmc <= 2.0, proc.stdout[-2000:]
    frames = sorted((out / "trackgo" / "Scene").glob("*/*.png"))
    assert len(frames) == points.shape[1]
