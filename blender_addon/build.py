"""Builds the installable extension zips: ``python3 -m blender_addon.build`` → ``dist/``.

Standard library only (runs before any environment exists). Steps:

1. stage ``blender_addon/`` (without this builder and the demo) in a temporary folder;
2. vendor the repository's ``shared_protocol/`` into ``_vendor/`` (one source of truth: nothing
   copied in git; the add-on's ``protocol`` shim imports the vendored copy when present);
3. fetch pyzmq and msgpack wheels for CPython 3.11 on each platform with
   ``pip download --only-binary=:all: --platform … --python-version 3.11`` (or take them from
   ``--wheels-from DIR``), list them in the manifest's ``wheels``;
4. write one zip per platform (its wheels only, ``platforms = [that one]``) and one zip with
   every platform's wheels, then check each zip holds what its manifest names.
"""
from __future__ import annotations

import argparse
import fnmatch
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
REQUIREMENTS = ["pyzmq>=26,<28", "msgpack>=1.1,<2"]
# Blender platform → pip --platform tags (newest first; pip also accepts older compatible ones).
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
EXCLUDE = ["__pycache__", "*.pyc", "build.py", "demo.py", "demo_scene.py", "demo_media.py", "demo_assets", "_vendor"]


class BuildError(Exception):
    """The build cannot go on; the message says what to fix."""


def read_manifest(path: Path = ADDON / "blender_manifest.toml") -> dict:
    if tomllib is None:
        raise BuildError("Python 3.11 or newer is needed to read blender_manifest.toml (tomllib)")
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def check_manifest(manifest: dict) -> None:
    """The fields Blender requires, and the limits its extension platform enforces."""
    required = ["schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                "blender_version_min", "license"]
    missing = [k for k in required if not manifest.get(k)]
    if missing:
        raise BuildError(f"blender_manifest.toml: missing required field(s) {', '.join(missing)}")
    tagline = manifest["tagline"]
    if len(tagline) > 64 or tagline[-1] in ".!?,;:":
        raise BuildError(f"blender_manifest.toml tagline: expected at most 64 characters without trailing "
                         f"punctuation, got {len(tagline)}: {tagline!r}")
    if manifest["type"] != "add-on":
        raise BuildError(f"blender_manifest.toml type: expected 'add-on', got {manifest['type']!r}")
    if not all(str(lic).startswith("SPDX:") for lic in manifest["license"]):
        raise BuildError("blender_manifest.toml license: expected SPDX identifiers such as 'SPDX:GPL-3.0-or-later'")
    unknown = set(manifest.get("platforms", [])) - set(PLATFORMS)
    if unknown:
        raise BuildError(f"blender_manifest.toml platforms: unknown {sorted(unknown)}, expected {sorted(PLATFORMS)}")
    perms = manifest.get("permissions", {})
    for key in ("network", "files"):
        reason = perms.get(key) or ""
        if not reason or len(reason) > 64 or reason[-1] in ".!?,;:":
            raise BuildError(f"blender_manifest.toml permissions.{key}: expected a reason of at most 64 "
                             f"characters without trailing punctuation, got {reason!r}")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise BuildError(f"manifest: cannot write a {type(value).__name__}")


def write_manifest(manifest: dict, path: Path) -> None:
    """TOML for the subset the manifest uses: scalars, arrays and one level of tables."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in manifest.items() if not isinstance(v, dict)]
    for k, table in manifest.items():
        if isinstance(table, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def platform_of(wheel: str) -> list[str]:
    if wheel.endswith("-none-any.whl"):
        return list(PLATFORMS)
    return [p for p, rx in WHEEL_TAG.items() if rx.search(wheel)]


def download_wheels(platform: str, dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
           "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--dest", str(dest)]
    for tag in PLATFORMS[platform]:
        cmd += ["--platform", tag]
    proc = subprocess.run(cmd + REQUIREMENTS, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"pip download for {platform} failed (is PyPI reachable? or pass --wheels-from DIR):\n"
                         + proc.stderr.strip()[-2000:])
    return sorted(dest.glob("*.whl"))


def collect_wheels(platforms: list[str], wheels_from: Path | None, work: Path) -> dict[str, list[Path]]:
    """Per platform, the pyzmq and msgpack wheels to ship."""
    out: dict[str, list[Path]] = {}
    for platform in platforms:
        if wheels_from is not None:
            found = [w for w in sorted(Path(wheels_from).glob("*.whl")) if platform in platform_of(w.name)]
        else:
            found = download_wheels(platform, work / platform)
        names = {w.name.split("-")[0].lower().replace("_", "-") for w in found}
        for req in ("pyzmq", "msgpack"):
            if req not in names:
                raise BuildError(f"wheels for {platform}: no {req} wheel found"
                                 + (f" in {wheels_from}" if wheels_from else ""))
        out[platform] = found
    return out


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pat) for pat in EXCLUDE)


def stage(dest: Path) -> None:
    """The add-on's files plus the vendored protocol package."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ADDON, dest, ignore=lambda d, names: [n for n in names if _ignored(n)])
    vendor = dest / "_vendor"
    vendor.mkdir()
    (vendor / "__init__.py").write_text('"""Packages vendored at build time (see blender_addon/build.py)."""\n')
    shutil.copytree(PROTOCOL, vendor / "shared_protocol",
                    ignore=lambda d, names: [n for n in names if n in ("__pycache__",) or n.endswith(".pyc")])


def write_zip(staged: Path, manifest: dict, wheels: list[Path], zip_path: Path) -> None:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(staged.rglob("*")):
            rel = path.relative_to(staged).as_posix()
            if path.is_file() and rel != "blender_manifest.toml" and not rel.startswith("wheels/"):
                zf.write(path, rel)
        for w in wheels:
            zf.write(w, f"wheels/{w.name}")
        with tempfile.TemporaryDirectory() as td:
            mpath = Path(td) / "blender_manifest.toml"
            write_manifest(manifest, mpath)
            zf.write(mpath, "blender_manifest.toml")
    tmp.replace(zip_path)  # a half-written zip is never left under its final name


def verify_zip(zip_path: Path) -> dict:
    """Re-read a built zip: its manifest parses and every file it names is inside."""
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    check_manifest(manifest)
    for wheel in manifest.get("wheels", []):
        if wheel.removeprefix("./") not in names:
            raise BuildError(f"{zip_path.name}: manifest names {wheel} but the zip does not contain it")
    for needed in ("__init__.py", "_vendor/shared_protocol/__init__.py", "io/client.py", "blender/operators.py"):
        if needed not in names:
            raise BuildError(f"{zip_path.name}: {needed} is missing")
    return manifest


def build(out: Path, wheels_from: Path | None = None, platforms: list[str] | None = None) -> list[Path]:
    manifest = read_manifest()
    check_manifest(manifest)
    platforms = platforms or list(manifest.get("platforms", PLATFORMS))
    with tempfile.TemporaryDirectory() as work:
        staged = Path(work) / manifest["id"]
        stage(staged)
        wheels = collect_wheels(platforms, wheels_from, Path(work))
        built = []
        stem = f"{manifest['id']}-{manifest['version']}"
        for platform in platforms:
            m = dict(manifest, platforms=[platform], wheels=[f"./wheels/{w.name}" for w in wheels[platform]])
            path = out / f"{stem}-{platform.replace('-', '_')}.zip"
            write_zip(staged, m, wheels[platform], path)
            built.append(path)
        every = sorted({w.name: w for ws in wheels.values() for w in ws}.values(), key=lambda w: w.name)
        m = dict(manifest, platforms=platforms, wheels=[f"./wheels/{w.name}" for w in every])
        path = out / f"{stem}.zip"
        write_zip(staged, m, every, path)
        built.append(path)
    for path in built:
        verify_zip(path)
    return built


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m blender_addon.build", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "dist"), help="output folder (default: dist/)")
    ap.add_argument("--wheels-from", default=None, help="take wheels from this folder instead of PyPI")
    ap.add_argument("--platform", action="append", choices=list(PLATFORMS), help="only these platforms")
    args = ap.parse_args(argv)
    try:
        built = build(Path(args.out).resolve(), Path(args.wheels_from) if args.wheels_from else None,
                      args.platform)
    except BuildError as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 1
    for path in built:
        print(f"built {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
