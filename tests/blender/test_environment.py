"""Each Blender test environment is the Blender line it stands for: its Python, and the numpy that
Blender line ships (1.26 in 4.2-5.0, 2.x from 5.1). Together with the rest of ``tests/protocol``
and ``tests/blender`` running in every line, this is what proves the protocol and the add-on work
on numpy 1.26 and numpy 2 alike."""
from __future__ import annotations

import sys

import bpy
import numpy

from blender_addon import build
from tests.dev import load_dev

def _dev():
    return load_dev("trackgo_dev")


def test_this_environment_has_the_python_and_numpy_of_its_blender_line():
    dev = _dev()
    line = "%d.%d" % bpy.app.version[:2]
    assert line in dev.BLENDER_LINES, f"Blender {line} has no line in dev.py"
    specs = dev.BLENDER_LINES[line]
    assert "%d.%d" % sys.version_info[:2] == build.BLENDER_PYTHON[line]
    numpy_pin = [s for s in specs if s.startswith("numpy==")][0].split("==")[1]
    assert numpy.__version__ == numpy_pin
    assert numpy.__version__.startswith("1.26." if bpy.app.version < (5, 1, 0) else "2.")


def test_the_default_test_run_covers_numpy_1_and_numpy_2_and_both_pythons():
    dev = _dev()
    majors = {[s for s in dev.BLENDER_LINES[line] if s.startswith("numpy==")][0][len("numpy=="):].split(".")[0]
              for line in dev.TESTED_LINES}
    assert majors == {"1", "2"}
    assert {build.BLENDER_PYTHON[line] for line in dev.TESTED_LINES} == {"3.11", "3.13"}
    assert dev.CURRENT_LTS in dev.TESTED_LINES and max(dev.TESTED_LINES, key=lambda v: tuple(map(int, v.split(".")))) == "5.3"
