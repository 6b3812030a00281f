"""The extension package: the manifest's version range against the bundled wheels' Pythons, the
zips Blender's own builder makes, Blender's own validator, and a real install + enable of the
built zips in this Blender line (offline: the test makes its own wheels)."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from blender_addon import build

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_TAGS = {"windows-x64": "win_amd64", "macos-arm64": "macosx_11_0_arm64",
                 "macos-x64": "macosx_10_9_x86_64",
                 "linux-x64": "manylinux2014_x86_64.manylinux_2_17_x86_64"}
# What PyPI has for the pinned versions: msgpack per CPython, pyzmq per CPython up to 3.11 and one
# stable-ABI wheel (cp312-abi3) for 3.12 on; pyzmq's macOS wheels are universal2.
FAKE_WHEELS = sorted(
    [f"msgpack-1.2.4-{py}-{py}-{tag}.whl" for py in ("cp311", "cp313") for tag in PLATFORM_TAGS.values()]
    + [f"pyzmq-27.3.0-{py}-{tag}.whl" for py in ("cp311-cp311", "cp312-abi3")
       for tag in ("win_amd64", "macosx_10_15_universal2", "manylinux_2_26_x86_64.manylinux_2_28_x86_64")])
STEM = "trackgo_blender-0.1.0"


def make_wheel(path: Path) -> None:
    """A minimal valid wheel (metadata only, tagged as its name says) so an install test never
    needs the network."""
    name, version, py, abi, plat = path.name[:-4].split("-")
    info = f"{name}-{version}.dist-info"
    tags = "".join(f"Tag: {py}-{abi}-{p}\n" for p in plat.split("."))
    files = {f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n{tags}"}
    files[f"{info}/RECORD"] = "".join(f"{k},,\n" for k in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in files.items():
            zf.writestr(k, v)


def make_wheels(folder: Path, names=FAKE_WHEELS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        make_wheel(folder / name)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    wheels = make_wheels(tmp_path_factory.mktemp("wheels"))
    return build.build(tmp_path_factory.mktemp("dist"), wheels_from=wheels)


def test_manifest_range_stops_before_the_first_blender_whose_python_is_not_bundled():
    m = build.read_manifest()
    assert m["id"] == "trackgo_blender" and m["type"] == "add-on"
    assert "website" not in m  # the placeholder is gone; no project site exists yet
    assert (m["blender_version_min"], m["blender_version_max"]) == ("4.2.0", "5.4.0")
    assert build.covered_lines(m) == ["4.2", "4.3", "4.4", "4.5", "5.0", "5.1", "5.2", "5.3"]
    assert build.check_version_range(m) == ["3.11", "3.13"]
    assert build.check_version_range(dict(m, blender_version_max="5.1.0")) == ["3.11"]
    assert build.check_version_range(dict(m, blender_version_min="5.2.0")) == ["3.13"]
    for beyond in (None, "", "6.0.0", "5.5.0"):
        with pytest.raises(build.BuildError, match=r"blender_version_max: expected at most '5\.4\.0'"):
            build.check_version_range(dict(m, blender_version_max=beyond))


def test_bundled_wheel_versions_are_pinned():
    assert all(v.count(".") == 2 for v in build.WHEELS.values())
    assert set(build.WHEELS) == {"pyzmq", "msgpack"}


def test_which_python_can_import_a_wheel():
    assert build.wheel_runs_on("msgpack-1.2.4-cp313-cp313-win_amd64.whl", "3.13")
    assert not build.wheel_runs_on("msgpack-1.2.4-cp311-cp311-win_amd64.whl", "3.13")
    assert build.wheel_runs_on("pyzmq-27.3.0-cp312-abi3-win_amd64.whl", "3.13")
    assert not build.wheel_runs_on("pyzmq-27.3.0-cp312-abi3-win_amd64.whl", "3.11")
    assert build.wheel_runs_on("x-1.0-py3-none-any.whl", "3.11")


def test_cp311_wheels_alone_are_refused_when_the_range_reaches_python_313(tmp_path):
    """What made Blender 5.2 refuse the extension: it shipped only cp311 wheels."""
    only_311 = [w for w in FAKE_WHEELS if "-cp311-" in w]
    with pytest.raises(build.BuildError, match="no pyzmq wheel for Python 3.13"):
        build.build(tmp_path / "dist", wheels_from=make_wheels(tmp_path / "w", only_311))
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


def test_missing_wheels_are_a_clear_build_error(tmp_path):
    w = make_wheels(tmp_path / "w", [n for n in FAKE_WHEELS if not n.startswith("msgpack")])
    with pytest.raises(build.BuildError, match="wheels for windows-x64: no msgpack wheel for Python 3.11"):
        build.build(tmp_path / "dist", wheels_from=w, platforms=["windows-x64"])


def test_zips_hold_what_their_manifests_name(built):
    assert sorted(p.name for p in built) == sorted(
        [f"{STEM}-{p}.zip" for p in ("linux_x64", "macos_arm64", "macos_x64", "windows_x64")] + [f"{STEM}.zip"])
    for path in built:
        manifest = build.verify_zip(path)
        with zipfile.ZipFile(path) as zf:
            inside = set(zf.namelist())
            # The protocol is vendored byte for byte from the repository (one source of truth).
            for src in (ROOT / "shared_protocol").glob("*.py"):
                assert zf.read(f"_vendor/shared_protocol/{src.name}") == src.read_bytes()
        assert {f"wheels/{Path(w).name}" for w in manifest["wheels"]} == {n for n in inside if n.startswith("wheels/")}
        # Blender's builder applied the manifest's exclude patterns.
        assert not inside & {"build.py", "demo.py", "demo_scene.py", "demo_media.py"}
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in inside)
    linux = build.verify_zip([p for p in built if p.name.endswith("linux_x64.zip")][0])
    assert linux["platforms"] == ["linux-x64"]
    assert sorted(Path(w).name for w in linux["wheels"]) == [
        "msgpack-1.2.4-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "msgpack-1.2.4-cp313-cp313-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "pyzmq-27.3.0-cp311-cp311-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl",
        "pyzmq-27.3.0-cp312-abi3-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl"]
    universal = build.verify_zip([p for p in built if p.name == f"{STEM}.zip"][0])
    assert sorted(Path(w).name for w in universal["wheels"]) == FAKE_WHEELS
    assert universal["platforms"] == ["windows-x64", "macos-arm64", "macos-x64", "linux-x64"]


def test_verify_zip_catches_a_platform_without_the_wheel_for_a_python(built, tmp_path):
    src = [p for p in built if p.name.endswith("windows_x64.zip")][0]
    broken = tmp_path / src.name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(broken, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "blender_manifest.toml":
                data = data.replace(b'"./wheels/msgpack-1.2.4-cp313-cp313-win_amd64.whl", ', b"")
            zout.writestr(item, data)
    with pytest.raises(build.BuildError, match="windows-x64: no msgpack wheel for Python 3.13"):
        build.verify_zip(broken)


def test_blenders_own_validator_accepts_every_zip(built):
    tool = build.blender_extension_tool()
    for path in built:
        assert "Success" in build._run_tool(tool, "validate", [str(path)])


def test_blenders_own_validator_is_what_checks_the_manifest_fields(tmp_path):
    """The required fields and their limits are Blender's to check (no copy of its rules here)."""
    text = (ROOT / "blender_addon" / "blender_manifest.toml").read_text()
    (tmp_path / "__init__.py").write_text("")
    tool = build.blender_extension_tool()
    (tmp_path / "blender_manifest.toml").write_text(text)
    build._run_tool(tool, "validate", [str(tmp_path)])
    for bad in (text.replace('maintainer = "TrackGo for Blender developers"\n', ""),
                text.replace('tagline = "', 'tagline = "' + "x" * 64)):
        (tmp_path / "blender_manifest.toml").write_text(bad)
        with pytest.raises(build.BuildError, match="extension validate"):
            build._run_tool(tool, "validate", [str(tmp_path)])


def _installed_wheel_tags(user: Path) -> dict[str, str]:
    """{package: its WHEEL tag} of what Blender unpacked from the zip's wheels."""
    found = {}
    for wheel in user.glob("extensions/.local/lib/python3*/site-packages/*.dist-info/WHEEL"):
        tag = [line for line in wheel.read_text().splitlines() if line.startswith("Tag: ")][0]
        found[wheel.parent.name.split("-")[0]] = tag[len("Tag: "):]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("which", ["linux_x64", "all platforms"])
def test_the_built_zip_installs_and_enables_in_this_blender(built, tmp_path, which):
    if which == "all platforms":
        zip_path = [p for p in built if p.name == f"{STEM}.zip"][0]
    else:
        zip_path = [p for p in built if p.name.endswith(f"{which}.zip")][0]
    script = f"""
import sys, bpy
r = bpy.ops.extensions.package_install_files(filepath={str(zip_path)!r}, repo="user_default", enable_on_install=True)
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
    user = tmp_path / "user"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user))
    env.pop("PYTHONPATH", None)  # the installed copy, not the checkout, must be what runs
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=env, cwd=str(tmp_path))
    assert "INSTALLED-OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    # Blender unpacked the wheels for its own Python (and this platform), not the others.
    tags = _installed_wheel_tags(user)
    cp = "cp%d%d" % sys.version_info[:2]
    assert set(tags) == {"msgpack", "pyzmq"}, tags
    assert tags["msgpack"].startswith(f"{cp}-{cp}-manylinux"), tags
    assert tags["pyzmq"].startswith(f"{cp}-{cp}-" if sys.version_info < (3, 12) else "cp312-abi3-manylinux"), tags


def test_without_any_blender_the_build_says_how_to_get_its_builder(monkeypatch):
    monkeypatch.setattr(build, "_bpy_installs", lambda: [])
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    with pytest.raises(build.BuildError, match=r"extension builder was not found.*--blender.*dev.py envs"):
        build.blender_extension_tool()
    assert build.blender_extension_tool("/opt/blender/blender")[0] == [
        "/opt/blender/blender", "--factory-startup", "--command", "extension"]
