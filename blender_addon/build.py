"""Builds the installable extension zips: ``python3 -m blender_addon.build`` → ``dist/``.

Blender's own extension builder (``blender --command extension build``, the ``bl_pkg`` command
line that also ships inside the PyPI ``bpy`` module) packs the zips, splits them per platform and
validates them. This file does only what it does not:

1. stage ``blender_addon/`` in a temporary folder and vendor the repository's ``shared_protocol/``
   into ``_vendor/`` (one source of truth: nothing copied in git; the add-on's ``protocol`` shim
   imports the vendored copy when present);
2. fetch the pinned pyzmq and msgpack wheels for every platform and for the Python of every
   Blender line the manifest's version range covers (``pip download --only-binary=:all:
   --platform … --python-version …``, or take them from ``--wheels-from DIR``) and list them in
   the staged manifest's ``wheels``;
3. check that the version range stops before any Blender whose Python the wheels do not cover;
4. run Blender's ``build --split-platforms`` (one zip per platform) and ``build`` (one zip with
   every platform's wheels), Blender's ``validate`` on each zip, and check each zip holds the
   vendored protocol and, per platform, a wheel of each package for each Python.
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "blender_addon"
PROTOCOL = ROOT / "shared_protocol"
# Pinned so a build is reproducible: the same wheels today and next year.
WHEELS = {"pyzmq": "27.3.0", "msgpack": "1.2.4"}
# The Python each Blender line embeds. The manifest's version range may only cover lines listed
# here, so a Blender whose Python is not known yet (and may have no wheel in the zip) is refused.
BLENDER_PYTHON = {"4.2": "3.11", "4.3": "3.11", "4.4": "3.11", "4.5": "3.11", "5.0": "3.11",
                  "5.1": "3.13", "5.2": "3.13", "5.3": "3.13"}
# Blender platform → pip --platform tags (pip also accepts older compatible ones).
PLATFORMS: dict[str, list[str]] = {
    "windows-x64": ["win_amd64"],
    "macos-arm64": ["macosx_11_0_arm64", "macosx_10_15_universal2", "macosx_10_9_universal2"],
    "macos-x64": ["macosx_10_15_x86_64", "macosx_10_9_x86_64", "macosx_10_15_universal2",
                  "macosx_10_9_universal2"],
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
}
WHEEL_TAG = {
    "windows-x64": re.compile(r"win_amd64"),
    "macos-arm64": re.compile(r"macosx_\d+_\d+_(arm64|universal2)"),
    "macos-x64": re.compile(r"macosx_\d+_\d+_(x86_64|universal2|intel)"),
    "linux-x64": re.compile(r"(manylinux|musllinux)\w*_x86_64"),
}
BL_PKG_CLI = "scripts/addons_core/bl_pkg/cli/blender_ext.py"
BL_TAGS = "scripts/modules/_bpy_internal/extensions/tags.py"


class BuildError(Exception):
    """The build cannot go on; the message says what to fix."""


def read_manifest(path: Path = ADDON / "blender_manifest.toml") -> dict:
    if tomllib is None:
        raise BuildError("Python 3.11 or newer is needed to read blender_manifest.toml (tomllib)")
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def covered_lines(manifest: dict) -> list[str]:
    """The Blender lines inside the manifest's [blender_version_min, blender_version_max)."""
    low = _version(manifest["blender_version_min"])
    high = _version(manifest.get("blender_version_max") or "999.0.0")
    return [line for line in BLENDER_PYTHON if low[:2] <= _version(line) and _version(line) + (0,) < high]


def check_version_range(manifest: dict) -> list[str]:
    """The Pythons to ship wheels for; refuses a range that reaches a Blender whose Python is
    not known (a zip without its wheels would be refused at install, or fail to import)."""
    newest = max(BLENDER_PYTHON, key=_version)
    major, minor = _version(newest)
    first_unknown = f"{major}.{minor + 1}.0"
    high = manifest.get("blender_version_max")
    if not high or _version(high) > _version(first_unknown):
        raise BuildError(f"blender_manifest.toml blender_version_max: expected at most {first_unknown!r} "
                         f"(Blender {newest} is the newest line whose Python is known; add the next line "
                         f"to BLENDER_PYTHON in blender_addon/build.py first), got {high!r}")
    lines = covered_lines(manifest)
    if not lines:
        raise BuildError("blender_manifest.toml: blender_version_min/max cover no known Blender line")
    return sorted({BLENDER_PYTHON[line] for line in lines}, key=_version)


def wheel_pythons(wheel: str) -> tuple[str, str]:
    """(python tag, abi tag) of a wheel file name."""
    parts = wheel[:-len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise BuildError(f"{wheel}: not a wheel file name (name-version-python-abi-platform.whl)")
    return parts[-3], parts[-2]


def wheel_runs_on(wheel: str, python: str) -> bool:
    """Whether CPython ``python`` ("3.13") can import this wheel (its own tag, or the stable ABI
    from an older CPython on: pyzmq ships one ``cp312-abi3`` wheel for 3.12 and later)."""
    py_tag, abi = wheel_pythons(wheel)
    want = "cp" + python.replace(".", "")
    tags = py_tag.split(".")
    if abi == "abi3":
        return any(t.startswith("cp3") and int(t[3:]) <= int(want[3:]) for t in tags)
    return want in tags or (abi == "none" and ("py3" in tags or want in tags))


def platform_of(wheel: str) -> list[str]:
    if wheel.endswith("-none-any.whl"):
        return list(PLATFORMS)
    return [p for p, rx in WHEEL_TAG.items() if rx.search(wheel)]


def _package_of(wheel: str) -> str:
    return wheel.split("-")[0].lower().replace("_", "-")


def download_wheels(platform: str, python: str, dest: Path) -> list[Path]:
    """The pinned wheels of ``platform`` for CPython ``python``, into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    cp = "cp" + python.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
           "--python-version", python, "--implementation", "cp", "--abi", cp, "--abi", "abi3",
           "--abi", "none", "--dest", str(dest)]
    for tag in PLATFORMS[platform]:
        cmd += ["--platform", tag]
    proc = subprocess.run(cmd + [f"{name}=={version}" for name, version in WHEELS.items()],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"pip download for {platform}, Python {python} failed (is PyPI reachable? or pass "
                         f"--wheels-from DIR):\n" + proc.stderr.strip()[-2000:])
    return sorted(set(dest.glob("*.whl")) | before)


def check_wheels(wheels: list[str], platforms: list[str], pythons: list[str], where: str = "") -> None:
    """Every platform has a wheel of each package for each Python."""
    for platform in platforms:
        for python in pythons:
            for name in WHEELS:
                if not any(_package_of(w) == name and platform in platform_of(w) and wheel_runs_on(w, python)
                           for w in wheels):
                    raise BuildError(f"wheels for {platform}: no {name} wheel for Python {python}{where}")


def collect_wheels(platforms: list[str], pythons: list[str], wheels_from: Path | None, work: Path) -> list[Path]:
    """The pyzmq and msgpack wheels to ship: each platform's, for each Python."""
    if wheels_from is not None:
        found = [w for w in sorted(Path(wheels_from).glob("*.whl"))
                 if _package_of(w.name) in WHEELS and set(platform_of(w.name)) & set(platforms)
                 and any(wheel_runs_on(w.name, py) for py in pythons)]
    else:
        found = sorted({w for platform in platforms for python in pythons
                        for w in download_wheels(platform, python, work / "wheels")})
    check_wheels([w.name for w in found], platforms, pythons,
                 f" in {wheels_from}" if wheels_from else "")
    return found


def _set_list(text: str, key: str, values: list[str]) -> str:
    """Replace the top-level ``key = [...]`` line of the manifest's text (keeps its comments)."""
    new, n = re.subn(rf"(?m)^{key} = \[[^\]]*\]", f"{key} = [" + ", ".join(f'"{v}"' for v in values) + "]",
                     text, count=1)
    if n != 1:
        raise BuildError(f"blender_manifest.toml: expected a line '{key} = [...]' for the build to fill")
    return new


def stage(dest: Path, platforms: list[str], wheels: list[Path]) -> None:
    """The add-on's files, the vendored protocol, the wheels, and a manifest that lists them.
    Blender's builder leaves out what the manifest's ``paths_exclude_pattern`` names."""
    shutil.copytree(ADDON, dest, ignore=lambda d, names: [n for n in names if n == "__pycache__"
                                                           or (d == str(ADDON) and n in ("_vendor", "wheels"))])
    vendor = dest / "_vendor"
    vendor.mkdir()
    (vendor / "__init__.py").write_text('"""Packages vendored at build time (see blender_addon/build.py)."""\n')
    shutil.copytree(PROTOCOL, vendor / "shared_protocol",
                    ignore=lambda d, names: [n for n in names if n == "__pycache__" or n.endswith(".pyc")])
    (dest / "wheels").mkdir()
    for w in wheels:
        shutil.copy2(w, dest / "wheels" / w.name)
    text = (ADDON / "blender_manifest.toml").read_text(encoding="utf-8")
    text = _set_list(text, "platforms", platforms)
    text = _set_list(text, "wheels", [f"./wheels/{w.name}" for w in wheels])
    (dest / "blender_manifest.toml").write_text(text, encoding="utf-8")


def _bpy_installs() -> list[tuple[str, Path]]:
    """(python, bpy folder) of installed ``bpy`` modules: this interpreter's, then those of the
    repository's Blender environments, newest line first."""
    found = []
    spec = importlib.util.find_spec("bpy")
    if spec is not None and spec.submodule_search_locations:
        found += [(sys.executable, Path(p)) for p in spec.submodule_search_locations]
    envs = [Path(p) for p in glob.glob(str(ROOT / ".venvs" / "blender-*")) if re.search(r"-\d+\.\d+$", p)]
    for env in sorted(envs, key=lambda e: _version(e.name.split("-", 1)[1]), reverse=True):
        for python, pattern in ((env / "bin" / "python", "lib/python3*/site-packages/bpy"),
                                (env / "Scripts" / "python.exe", "Lib/site-packages/bpy")):
            found += [(str(python), bpy) for bpy in env.glob(pattern) if python.exists()]
    return found


def blender_extension_tool(blender: str | None = None) -> tuple[list[str], list[str]]:
    """Blender's extension tool as ``blender --command extension`` runs it: (command, options to
    put after the sub-command). A Blender executable (``--blender``), else ``blender_ext.py`` from
    an installed ``bpy`` module with Blender's list of valid tags, else ``blender`` on PATH."""
    blender = blender or None
    if blender is None:
        for python, bpy_dir in _bpy_installs():
            for cli in sorted(bpy_dir.glob("*/" + BL_PKG_CLI), reverse=True):
                tags = cli.parents[4] / BL_TAGS
                return [python, str(cli)], (["--valid-tags", str(tags)] if tags.exists() else [])
        blender = shutil.which("blender")
    if blender is None:
        raise BuildError("Blender's extension builder was not found: put Blender on PATH (or pass --blender "
                         "/path/to/blender), or create a Blender environment: python3 dev.py envs --blender 5.2")
    return [blender, "--factory-startup", "--command", "extension"], []


def _run_tool(tool: tuple[list[str], list[str]], subcommand: str, args: list[str]) -> str:
    command, options = tool
    proc = subprocess.run(command + [subcommand] + options + args, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or (subcommand == "validate" and "Success" not in out):
        raise BuildError(f"Blender's `extension {subcommand}` failed:\n{out.strip()[-3000:]}")
    return out


def verify_zip(zip_path: Path, pythons: list[str] | None = None) -> dict:
    """Re-read a built zip for what Blender's validator does not check: every wheel its manifest
    names is inside, each platform has a wheel of each package for each Python, and the vendored
    protocol is there. Returns the manifest Blender will read (with ``[build.generated]`` applied)."""
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    generated = manifest.get("build", {}).get("generated", {})
    manifest.update({k: generated[k] for k in ("platforms", "wheels") if k in generated})
    for wheel in manifest.get("wheels", []):
        if wheel.removeprefix("./") not in names:
            raise BuildError(f"{zip_path.name}: manifest names {wheel} but the zip does not contain it")
    check_wheels([Path(w).name for w in manifest.get("wheels", [])], manifest["platforms"],
                 pythons or check_version_range(manifest), f" in {zip_path.name}")
    for needed in ("__init__.py", "_vendor/shared_protocol/__init__.py", "io/client.py", "blender/operators.py"):
        if needed not in names:
            raise BuildError(f"{zip_path.name}: {needed} is missing")
    return manifest


def build(out: Path, wheels_from: Path | None = None, platforms: list[str] | None = None,
          blender: str | None = None) -> list[Path]:
    manifest = read_manifest()
    pythons = check_version_range(manifest)
    platforms = platforms or list(manifest.get("platforms", PLATFORMS))
    unknown = set(platforms) - set(PLATFORMS)
    if unknown:
        raise BuildError(f"platforms: unknown {sorted(unknown)}, expected {sorted(PLATFORMS)}")
    tool = blender_extension_tool(blender)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{manifest['id']}-{manifest['version']}"
    with tempfile.TemporaryDirectory() as work:
        wheels = collect_wheels(platforms, pythons, wheels_from, Path(work))
        staged = Path(work) / manifest["id"]
        stage(staged, platforms, wheels)
        _run_tool(tool, "build", ["--source-dir", str(staged), "--output-dir", str(out), "--split-platforms"])
        _run_tool(tool, "build", ["--source-dir", str(staged), "--output-dir", str(out)])
    built = [out / f"{stem}-{p.replace('-', '_')}.zip" for p in platforms] + [out / f"{stem}.zip"]
    for path in built:
        if not path.exists():
            raise BuildError(f"Blender's builder did not write {path}")
        _run_tool(tool, "validate", [str(path)])
        verify_zip(path, pythons)
    return built


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m blender_addon.build", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "dist"), help="output folder (default: dist/)")
    ap.add_argument("--wheels-from", default=None, help="take wheels from this folder instead of PyPI")
    ap.add_argument("--platform", action="append", choices=list(PLATFORMS), help="only these platforms")
    ap.add_argument("--blender", default=None,
                    help="Blender executable whose `--command extension` builds the zips (default: the bpy "
                         "module of this Python or of .venvs/blender-*, else `blender` on PATH)")
    args = ap.parse_args(argv)
    try:
        built = build(Path(args.out).resolve(), Path(args.wheels_from) if args.wheels_from else None,
                      args.platform, args.blender)
    except BuildError as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 1
    for path in built:
        print(f"built {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
