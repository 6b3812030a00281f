#!/usr/bin/env python3
"""The project's two front doors: ``python3 dev.py demo`` and ``python3 dev.py test``
(and ``python3 dev.py mutants [paths]``: the core's mutation score, slow, not part of CI).

Both create every environment they need, so a newcomer (and CI on a clean clone) never
installs anything by hand. There are two Python worlds, kept apart as users have them:

* ``.venvs/server``      the model server: torch, diffusers, opencv 5, numpy 2.
* ``.venvs/blender-X.Y`` one per supported Blender line, built from the PyPI ``bpy`` module
                         with the Python and numpy that Blender line ships (3.11 + numpy 1.26
                         for 4.2-5.0, 3.13 + numpy 2 for 5.1 on), pyzmq and msgpack.

Standard library only: this file runs before any environment exists.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENVS = ROOT / ".venvs"
sys.path.insert(0, str(ROOT))
from blender_addon.build import BLENDER_PYTHON  # noqa: E402  (standard library only, like this file)

# The CPU build of torch is pinned: an unpinned torch pulls a multi-GB CUDA build.
CPU_TORCH = "torch==2.13.0"
NUMPY_1 = "numpy==1.26.4"  # Blender 4.2 - 5.0 ship numpy 1.26
NUMPY_2 = "numpy==2.5.5"   # Blender 5.1 on ship numpy 2 (bpy 5.1-5.3 require numpy>=2.2,<3; 5.2.3 LTS ships 2.5)
# Each Blender line's bpy + numpy; the Python it embeds is BLENDER_PYTHON (shared with the
# extension build, which bundles wheels for those Pythons).
BLENDER_LINES: dict[str, list[str]] = {
    "4.2": ["bpy==4.2.*", NUMPY_1],
    "4.5": ["bpy==4.5.*", NUMPY_1],
    "5.0": ["bpy==5.0.*", NUMPY_1],
    "5.1": ["bpy==5.1.*", NUMPY_2],
    "5.2": ["bpy==5.2.*", NUMPY_2],
    "5.3": ["bpy==5.3.*", NUMPY_2],
}
# What `python3 dev.py test` runs by default: every maintained LTS, the latest release, and 5.0
# (the only line with Python 3.11 and numpy 1.26 under Blender 5's API). 5.1 is built on demand
# (`--blender 5.1`): the same Python, numpy and API as 5.2, for another bpy download and test run.
TESTED_LINES = ["4.2", "4.5", "5.0", "5.2", "5.3"]
CURRENT_LTS = "5.2"
# What every Blender environment has besides bpy and numpy: the add-on's wheels and the test tools,
# pinned as in pyproject.toml's ``dev`` extra (the server's). pytest-randomly runs every environment's
# tests in random order with the seed printed in pytest's header (``--randomly-seed=N`` reruns that
# order, ``-p no:randomly`` runs in file order).
BLENDER_COMMON = ["pyzmq>=26", "msgpack>=1.0.8", "pytest>=8", "pytest-timeout>=2.3", "hypothesis>=6.100",
                  "pytest-randomly>=3.15"]


def log(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def venv_python(name: str) -> Path:
    if os.name == "nt":
        return VENVS / name / "Scripts" / "python.exe"
    return VENVS / name / "bin" / "python"


class MissingPython(SystemExit):
    """No interpreter of the version a Blender line embeds; the message says what to install."""


def _python_version(exe: str | Path, *prefix: str) -> tuple[str, str] | None:
    """(``X.Y``, sys.executable) of a candidate interpreter, or None if it does not run.

    A pyenv shim for a version that is installed but not selected exits with an error, so every
    candidate is run rather than trusted by name."""
    try:
        out = subprocess.run([str(exe), *prefix, "-c",
                              "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.split()
    return (lines[0], lines[1]) if out.returncode == 0 and len(lines) >= 2 else None


def _python_candidates(version: str):
    """Where a newcomer's machine keeps Python X.Y, in the order to try them."""
    env_name = "TRACKGO_PYTHON_" + version.replace(".", "_")
    if os.environ.get(env_name):
        yield os.environ[env_name], ()
    yield sys.executable, ()
    for name in (f"python{version}", "python3", "python"):
        found = shutil.which(name)
        if found:
            yield found, ()
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    for exe in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"), reverse=True):
        yield exe, ()
    if shutil.which("py"):  # the Windows launcher
        yield "py", (f"-{version}",)
    if shutil.which("uv"):
        out = subprocess.run(["uv", "python", "find", version], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            yield out.stdout.strip(), ()
    for exe in (f"/opt/homebrew/bin/python{version}", f"/usr/local/bin/python{version}",
                f"/Library/Frameworks/Python.framework/Versions/{version}/bin/python{version}"):
        yield exe, ()


def find_python(version: str, why: str) -> Path:
    """An interpreter of Python ``version`` (``"3.13"``), found as a newcomer's machine has it."""
    seen = set()
    for exe, prefix in _python_candidates(version):
        key = (str(exe), prefix)
        if key in seen:
            continue
        seen.add(key)
        found = _python_version(exe, *prefix)
        if found and found[0] == version:
            return Path(found[1])
    env_name = "TRACKGO_PYTHON_" + version.replace(".", "_")
    raise MissingPython(
        f"[dev] {why} needs Python {version}, and none was found (looked for python{version} on PATH, "
        f"pyenv versions {version}.*, the Windows launcher `py -{version}`, `uv python find {version}`).\n"
        f"      Install Python {version}, for example: `pyenv install {version}` | "
        f"`brew install python@{version}` | `sudo apt install python{version} python{version}-venv` | "
        f"`uv python install {version}` | https://www.python.org/downloads/\n"
        f"      or point {env_name} at one: {env_name}=/path/to/python{version} python3 dev.py ...")


def has_cuda() -> bool:
    return shutil.which("nvidia-smi") is not None


def _fingerprint(parts: list[str]) -> str:
    """What an environment was built from; a change rebuilds it."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
    h.update((ROOT / "pyproject.toml").read_bytes())
    return h.hexdigest()[:16]


def _ensure_venv(name: str, install_steps: list[list[str]], python: str | None = None, why: str = "") -> Path:
    """Create (or reuse, if built from the same recipe) one virtual environment; ``python``
    (``"3.13"``) is the interpreter version it must have (default: the one running dev.py)."""
    py = venv_python(name)
    stamp = VENVS / name / ".trackgo-recipe"
    recipe = _fingerprint([" ".join(s) for s in install_steps])
    if py.exists() and python is not None and (_python_version(py) or ("?",))[0] != python:
        # Made with another Python (e.g. before this line needed 3.13): it cannot be updated in place.
        log(f".venvs/{name} runs another Python than {python}: recreating it")
        if (VENVS / name).is_symlink():  # a link to an environment shared with other checkouts
            (VENVS / name).unlink()
        else:
            shutil.rmtree(VENVS / name)
    if py.exists() and stamp.exists() and stamp.read_text().strip() == recipe:
        return py
    base = find_python(python, why or f".venvs/{name}") if python else Path(sys.executable)
    t0 = time.monotonic()
    pip = [py, "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    if py.exists():
        # Recipe changed (e.g. a new dependency): install on top, never tear down a working env.
        log(f"updating environment .venvs/{name}")
    else:
        log(f"creating environment .venvs/{name} with Python {python or sys.version.split()[0]} "
            f"(first run only; a few minutes)")
        try:
            run([base, "-m", "venv", VENVS / name])
        except subprocess.CalledProcessError:
            raise MissingPython(f"[dev] `{base} -m venv` failed: Python's venv module is missing "
                                f"(Debian/Ubuntu: `sudo apt install python{python or '3'}-venv`)")
        run(pip + ["--upgrade", "pip"])
    for step in install_steps:
        run(pip + step, cwd=ROOT)
    stamp.write_text(recipe)
    log(f".venvs/{name} ready in {time.monotonic() - t0:.0f} s")
    return py


def server_env() -> Path:
    torch_step = ["torch>=2.4"] if has_cuda() else [CPU_TORCH]
    # .[cluster] (Ray Serve) too: the cluster tests start a small local Ray on this machine.
    return _ensure_venv("server", [torch_step, ["-e", ".[server,train,dev,cluster]"]])


def blender_env(line: str) -> Path:
    python, specs = BLENDER_PYTHON[line], BLENDER_LINES[line]
    return _ensure_venv(f"blender-{line}", [specs + BLENDER_COMMON], python,
                        why=f".venvs/blender-{line} (Blender {line} runs Python {python})")


def _env_for_tests(server_py: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["TRACKGO_SERVER_PYTHON"] = str(server_py)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def cmd_test(args: argparse.Namespace) -> int:
    """Every test in every environment: the server's, then each Blender line's."""
    server_py = server_env()
    env = _env_for_tests(server_py)
    extra = list(args.pytest_args)
    failures = []
    runs = [("server", server_py, ["tests", "--ignore=tests/blender"])]
    for line in args.blender or TESTED_LINES:
        runs.append((f"blender-{line}", blender_env(line), ["tests/protocol", "tests/addon_io", "tests/blender"]))
    for name, py, targets in runs:
        targets = [t for t in targets if t.startswith("--") or (ROOT / t).exists()]
        log(f"=== tests in .venvs/{name}")
        env_i = dict(env, TRACKGO_TEST_ENV=name)
        rc = subprocess.run([str(py), "-m", "pytest", "-q", *targets, *extra], cwd=ROOT, env=env_i).returncode
        if rc != 0:
            failures.append((name, rc))
    if failures:
        log("FAILED in: " + ", ".join(f"{n} (exit {rc})" for n, rc in failures))
        return 1
    log("all environments passed")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job: server (preview backend unless weights are configured) + add-on, headless."""
    server_py = server_env()
    blender_py = blender_env(args.blender)
    env = _env_for_tests(server_py)
    cmd = [str(blender_py), "-m", "blender_addon.demo", "--out", str(Path(args.out).resolve())]
    if args.backend:
        cmd += ["--backend", args.backend]
    if args.previs:
        cmd += ["--previs"]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def cmd_mutants(args: argparse.Namespace) -> int:
    """Mutation score of the core modules (mutmut, in .venvs/server; slow, not part of CI)."""
    server_py = server_env()
    cmd = [str(server_py), str(ROOT / "tools" / "mutants.py"), *args.mutants_args]
    return subprocess.run(cmd, cwd=ROOT).returncode


def cmd_envs(args: argparse.Namespace) -> int:
    """Create the environments only (useful before going offline); with ``--blender``, only those."""
    if not args.blender:
        server_env()
    for line in args.blender or TESTED_LINES:
        blender_env(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("test", help="create the environments and run every test in each")
    t.add_argument("--blender", action="append", choices=list(BLENDER_LINES),
                   help=f"only these Blender lines (default: {', '.join(TESTED_LINES)})")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    d = sub.add_parser("demo", help="run the demo: generate a shot headless, print where it is")
    d.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    d.add_argument("--blender", default=CURRENT_LTS, choices=list(BLENDER_LINES),
                   help=f"which Blender line's environment runs the add-on (default: {CURRENT_LTS}, the current LTS)")
    d.add_argument("--backend", default=None, help="preview (default), trackgo when weights are set, "
                                                   "dualclock with TRACKGO_SVD_PATH alone")
    d.add_argument("--previs", action="store_true", help="the previs demo: tracks from a blocked 3D scene")
    e = sub.add_parser("envs", help="create the environments and exit")
    e.add_argument("--blender", action="append", choices=list(BLENDER_LINES),
                   help=f"only these Blender lines (default: {', '.join(TESTED_LINES)})")
    m = sub.add_parser("mutants", help="mutation score per core module (mutmut; minutes per module)")
    m.add_argument("mutants_args", nargs=argparse.REMAINDER,
                   help="module names or paths (default: all), --budget S, --show, --list")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mutants"]:   # everything after it is tools/mutants.py's, options included
        return cmd_mutants(argparse.Namespace(mutants_args=argv[1:]))
    args = ap.parse_args(argv)
    return {"test": cmd_test, "demo": cmd_demo, "envs": cmd_envs, "mutants": cmd_mutants}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
