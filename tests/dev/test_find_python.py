"""dev.py finds each Blender line's Python the way a newcomer's machine has it, and says what to
install when it is missing."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.dev import load_dev

@pytest.fixture
def dev(monkeypatch, tmp_path):
    module = load_dev("trackgo_dev_under_test")
    # A machine with nothing but what each test puts there.
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.delenv("TRACKGO_PYTHON_3_99", raising=False)
    (tmp_path / "bin").mkdir()
    return module


def fake_python(path: Path, version: str, works: bool = True) -> Path:
    """An executable that answers like ``python -c`` of that version (or fails like a pyenv shim
    for a version that is installed but not selected)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if works:
        body = f'#!/bin/sh\necho {version}\necho {path}\n'
    else:
        body = f'#!/bin/sh\necho "pyenv: python{version}: command not found" >&2\nexit 127\n'
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


pytestmark = pytest.mark.skipif(os.name == "nt", reason="the fake interpreters are POSIX shell scripts")


def test_the_interpreter_is_found_on_path(dev, tmp_path):
    exe = fake_python(tmp_path / "bin" / "python3.99", "3.99")
    assert dev.find_python("3.99", "Blender 9.9") == exe


def test_a_pyenv_shim_that_fails_is_passed_over_for_the_pyenv_version_itself(dev, tmp_path):
    fake_python(tmp_path / "bin" / "python3.99", "3.99", works=False)
    installed = fake_python(tmp_path / "pyenv" / "versions" / "3.99.1" / "bin" / "python3.99", "3.99")
    assert dev.find_python("3.99", "Blender 9.9") == installed


def test_a_python_of_another_version_under_that_name_is_not_taken(dev, tmp_path):
    fake_python(tmp_path / "bin" / "python3.99", "3.98")
    with pytest.raises(SystemExit):
        dev.find_python("3.99", "Blender 9.9")


def test_the_environment_variable_wins(dev, tmp_path, monkeypatch):
    fake_python(tmp_path / "bin" / "python3.99", "3.99")
    chosen = fake_python(tmp_path / "elsewhere" / "python", "3.99")
    monkeypatch.setenv("TRACKGO_PYTHON_3_99", str(chosen))
    assert dev.find_python("3.99", "Blender 9.9") == chosen


def test_missing_python_names_what_to_install(dev):
    with pytest.raises(SystemExit) as err:
        dev.find_python("3.99", ".venvs/blender-9.9 (Blender 9.9 runs Python 3.99)")
    msg = str(err.value)
    assert ".venvs/blender-9.9 (Blender 9.9 runs Python 3.99) needs Python 3.99" in msg
    for hint in ("pyenv install 3.99", "brew install python@3.99", "apt install python3.99",
                 "TRACKGO_PYTHON_3_99="):
        assert hint in msg


def test_every_supported_line_maps_to_its_python():
    dev = load_dev("trackgo_dev_lines")
    assert {line: dev.BLENDER_PYTHON[line] for line in dev.BLENDER_LINES} == {
        "4.2": "3.11", "4.5": "3.11", "5.0": "3.11", "5.1": "3.13", "5.2": "3.13", "5.3": "3.13"}
    assert dev.CURRENT_LTS == "5.2"
