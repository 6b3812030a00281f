"""The README's first command, end to end in this Blender environment (a short shot)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, server_python


@pytest.mark.slow
def test_demo_makes_blend_frames_video_and_contact_sheet(tmp_path):
    out = tmp_path / "demo"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRACKGO_SERVER_PYTHON=server_python())
    proc = subprocess.run([sys.executable, "-m", "blender_addon.demo", "--out", str(out), "--frames", "4"],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    printed = proc.stdout
    for label in (".blend", "frames", "video", "contact sheet"):
        assert f"  {label}" in printed
    blend = out / "trackgo_demo.blend"
    # Two takes: Take 1 extended (4 + 3 frames, the shared frame once) and Take 2 (4 frames).
    folders = {}
    for f in sorted((out / "trackgo" / "Scene").glob("*/*.png")):
        folders.setdefault(f.parent, []).append(f.name)
    assert blend.is_file() and sorted(len(v) for v in folders.values()) == [4, 7]
    take1 = next(p for p, v in folders.items() if len(v) == 7)
    assert folders[take1] == [f"{i:04d}.png" for i in range(1, 8)]
    assert "takes: Take 1" in printed and "(extends Take 1)" in printed
    assert (out / "trackgo_demo.mp4").stat().st_size > 1000
    assert (out / "contact_sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(blend) in printed and str(out / "trackgo_demo.mp4") in printed
    # The saved .blend reopens with the strip over the frames on disk.
    check = (f"import bpy; bpy.ops.wm.open_mainfile(filepath={str(blend)!r}); "
             "se = bpy.context.scene.sequence_editor; s = [s for s in (getattr(se, 'strips', None) or se.sequences) "
             "if len(s.elements) == 7][0]; "
             "print('STRIP', len(s.elements), s['trackgo_state'], bpy.path.abspath(s.directory))")
    reopened = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    line = [l for l in reopened.stdout.splitlines() if l.startswith("STRIP")][0]
    assert line.split()[1:3] == ["7", "done"] and Path(line.split()[3]) == take1


def test_run_and_exit_turns_an_unexpected_error_into_status_1(monkeypatch, capsys):
    """An error the demo did not foresee is printed and exits 1, not left to the bpy module's
    crashing interpreter teardown."""
    from blender_addon import demo_scene

    class Exited(Exception):
        pass

    codes = []

    def fake_exit(code):
        codes.append(code)
        raise Exited

    def main():
        raise ValueError("boom")

    monkeypatch.setattr(demo_scene.os, "_exit", fake_exit)
    with pytest.raises(Exited):
        demo_scene.run_and_exit(main)
    assert codes == [1] and "ValueError: boom" in capsys.readouterr().err
