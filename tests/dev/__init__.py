"""Tests of ``dev.py``, the one command that builds every environment; ``load_dev`` is how any
test (in the server or a Blender environment) reads ``dev.py`` without running its CLI."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_dev(name: str = "trackgo_dev"):
    """A fresh module object of ``dev.py`` (fresh, so a test may patch it freely)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
