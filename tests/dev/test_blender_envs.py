"""Every Blender test environment gets the server's test tools, pinned alike: in particular
pytest-randomly, so the Blender lines run in random order (seed in the header) as the server does."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.dev import load_dev

ROOT = Path(__file__).resolve().parents[2]


def _dev():
    return load_dev("trackgo_dev_envs")


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[;]", spec, maxsplit=1)[0].strip().lower()


def test_blender_envs_install_the_servers_test_tools_with_the_same_pins():
    dev_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    server_pins = {_name(s): s for s in dev_extra}
    blender_pins = {_name(s): s for s in _dev().BLENDER_COMMON}
    for tool in ("pytest", "pytest-timeout", "hypothesis", "pytest-randomly"):
        assert blender_pins.get(tool) == server_pins[tool], tool


def test_each_blender_env_is_built_with_pytest_randomly(monkeypatch):
    dev = _dev()
    steps = []
    monkeypatch.setattr(dev, "_ensure_venv", lambda name, install, *a, **kw: steps.append((name, install)))
    for line in dev.TESTED_LINES:
        dev.blender_env(line)
    assert [name for name, _ in steps] == [f"blender-{line}" for line in dev.TESTED_LINES]
    for name, install in steps:
        assert any(_name(spec) == "pytest-randomly" for step in install for spec in step), name
