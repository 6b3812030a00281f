"""The extension package: manifest fields and limits, the built zips, Blender's own validator,
and a real install + enable of the built zip (offline: the test makes its own wheels)."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from blender_addon import build

ROOT = Path(__file__).resolve().parents[2]
FAKE_WHEELS = [
    "pyzmq-27.3.0-cp311-cp311-win_amd64.whl",
    "pyzmq-27.3.0-cp311-cp311-macosx_10_15_universal2.whl",
    "pyzmq-27.3.0-cp311-cp311-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl",
    "msgpack-1.2.4-cp311-cp311-win_amd64.whl",
    "msgpack-1.2.4-cp311-cp311-macosx_11_0_arm64.whl",
    "msgpack-1.2.4-cp311-cp311-macosx_10_9_x86_64.whl",
    "msgpack-1.2.4-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
]


def make_wheel(path: Path) -> None:
    """A minimal valid wheel (metadata only) so an install test never needs the network."""
    name, version = path.name.split("-")[:2]
    info = f"{name}-{version}.dist-info"
    files = {f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: cp311-cp311-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{k},,\n" for k in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in files.items():
            zf.writestr(k, v)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    wheels = tmp_path_factory.mktemp("wheels")
    for name in FAKE_WHEELS:
        make_wheel(wheels / name)
    out = tmp_path_factory.mktemp("dist")
    return build.build(out, wheels_from=wheels)


def test_source_manifest_has_the_required_fields_within_limits():
    m = build.read_manifest()
    build.check_manifest(m)
    assert m["id"] == "trackgo_blender" and m["type"] == "add-on"
    assert m["blender_version_min"] == "4.2.0"
    assert len(m["tagline"]) <= 64 and m["tagline"][-1].isalnum()
    assert set(m["platforms"]) == {"windows-x64", "macos-arm64", "macos-x64", "linux-x64"}
    assert m["permissions"]["network"] and m["permissions"]["files"]
    assert all(lic.startswith("SPDX:") for lic in m["license"])
    bad = dict(m, tagline="x" * 65)
    with pytest.raises(build.BuildError, match="tagline"):
        build.check_manifest(bad)
    with pytest.raises(build.BuildError, match="maintainer"):
        build.check_manifest({k: v for k, v in m.items() if k != "maintainer"})


def test_zips_hold_what_their_manifests_name(built):
    names = sorted(p.name for p in built)
    assert names == ["trackgo_blender-0.1.0-linux_x64.zip", "trackgo_blender-0.1.0-macos_arm64.zip",
                     "trackgo_blender-0.1.0-macos_x64.zip", "trackgo_blender-0.1.0-windows_x64.zip",
                     "trackgo_blender-0.1.0.zip"]
    for path in built:
        manifest = build.verify_zip(path)
        with zipfile.ZipFile(path) as zf:
            inside = set(zf.namelist())
            # The protocol is vendored byte for byte from the repository (one source of truth).
            for src in (ROOT / "shared_protocol").glob("*.py"):
                assert zf.read(f"_vendor/shared_protocol/{src.name}") == src.read_bytes()
        assert {f"wheels/{Path(w).name}" for w in manifest["wheels"]} == {n for n in inside if n.startswith("wheels/")}
        assert "build.py" not in inside and "demo.py" not in inside
        assert not any("__pycache__" in n for n in inside)
    linux = build.verify_zip([p for p in built if p.name.endswith("linux_x64.zip")][0])
    assert linux["platforms"] == ["linux-x64"]
    assert sorted(Path(w).name.split("-")[0] for w in linux["wheels"]) == ["msgpack", "pyzmq"]
    universal = build.verify_zip([p for p in built if p.name == "trackgo_blender-0.1.0.zip"][0])
    assert len(universal["wheels"]) == len(FAKE_WHEELS)


def _blender_ext() -> Path:
    import bpy
    return Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"


def test_blenders_own_validator_accepts_every_zip(built):
    for path in built:
        proc = subprocess.run([sys.executable, str(_blender_ext()), "validate", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "Success" in proc.stdout, proc.stdout + proc.stderr


def test_missing_wheels_are_a_clear_build_error(tmp_path):
    (tmp_path / "w").mkdir()
    make_wheel(tmp_path / "w" / FAKE_WHEELS[0])
    with pytest.raises(build.BuildError, match="wheels for windows-x64: no msgpack wheel"):
        build.build(tmp_path / "dist", wheels_from=tmp_path / "w", platforms=["windows-x64"])


@pytest.mark.slow
def test_the_built_zip_installs_and_enables_in_blender(built, tmp_path):
    linux = [p for p in built if p.name.endswith("linux_x64.zip")][0]
    script = f"""
import sys, bpy
r = bpy.ops.extensions.package_install_files(filepath={str(linux)!r}, repo="user_default", enable_on_install=True)
assert r == {{"FINISHED"}}, r
pkg = "bl_ext.user_default.trackgo_blender"
assert pkg in bpy.context.preferences.addons.keys()
assert sys.modules[pkg + ".protocol"].sp.__name__ == pkg + "._vendor.shared_protocol"
assert hasattr(bpy.types.Scene, "trackgo") and hasattr(bpy.ops.trackgo, "generate")
prefs = bpy.context.preferences.addons[pkg].preferences
assert prefs.server_address == "tcp://127.0.0.1:5555"
import addon_utils
addon_utils.disable(pkg)
assert not hasattr(bpy.types.Scene, "trackgo")
print("INSTALLED-OK")
"""
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    env.pop("PYTHONPATH", None)  # the installed copy, not the checkout, must be what runs
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=env, cwd=str(tmp_path))
    assert "INSTALLED-OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
