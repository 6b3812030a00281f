#!/usr/bin/env python3
"""The project's two front doors: ``python3 dev.py demo`` and ``python3 dev.py test``
(and ``python3 dev.py mutants [paths]``: the core's mutation score, slow, not part of CI).

Both create every environment they need, so a newcomer (and CI on a clean clone) never
installs anything by hand. There are two Python worlds, kept apart as users have them:

* ``.venvs/server``      the model server: torch, diffusers, opencv 5, numpy 2.
* ``.venvs/blender-X.Y`` one per supported Blender line, built from the PyPI ``bpy`` module
                         with numpy 1.26 (what Blender itself ships), pyzmq and msgpack.

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

# The CPU build of torch is pinned: an unpinned torch pulls a multi-GB CUDA build.
CPU_TORCH = "torch==2.13.0"
BLENDER_LINES = {
    "4.2": ["bpy==4.2.*"],
    "4.5": ["bpy==4.5.*"],
    "5.0": ["bpy==5.0.*"],
}
# What every Blender environment has besides bpy: Blender's own numpy, and the add-on's wheels.
BLENDER_COMMON = ["numpy==1.26.4", "pyzmq>=26", "msgpack>=1.0.8", "pytest>=8", "pytest-timeout>=2.3",
                  "hypothesis>=6.100"]


def log(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def venv_python(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def has_cuda() -> bool:
    return shutil.which("nvidia-smi") is not None


def _fingerprint(parts: list[str]) -> str:
    """What an environment was built from; a change rebuilds it."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
    h.update((ROOT / "pyproject.toml").read_bytes())
    return h.hexdigest()[:16]


def _ensure_venv(name: str, install_steps: list[list[str]]) -> Path:
    """Create (or reuse, if built from the same recipe) one virtual environment."""
    py = venv_python(name)
    stamp = VENVS / name / ".trackgo-recipe"
    recipe = _fingerprint([" ".join(s) for s in install_steps])
    if py.exists() and stamp.exists() and stamp.read_text().strip() == recipe:
        return py
    t0 = time.monotonic()
    pip = [py, "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    if py.exists():
        # Recipe changed (e.g. a new dependency): install on top, never tear down a working env.
        log(f"updating environment .venvs/{name}")
    else:
        log(f"creating environment .venvs/{name} (first run only; a few minutes)")
        run([sys.executable, "-m", "venv", VENVS / name])
        run(pip + ["--upgrade", "pip"])
    for step in install_steps:
        run(pip + step, cwd=ROOT)
    stamp.write_text(recipe)
    log(f".venvs/{name} ready in {time.monotonic() - t0:.0f} s")
    return py


def server_env() -> Path:
    torch_step = ["torch>=2.4"] if has_cuda() else [CPU_TORCH]
    return _ensure_venv("server", [torch_step, ["-e", ".[server,train,dev]"]])


def blender_env(line: str) -> Path:
    return _ensure_venv(f"blender-{line}", [BLENDER_LINES[line] + BLENDER_COMMON])


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
    for line in args.blender or list(BLENDER_LINES):
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
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def cmd_mutants(args: argparse.Namespace) -> int:
    """Mutation score of the core modules (mutmut, in .venvs/server; slow, not part of CI)."""
    server_py = server_env()
    cmd = [str(server_py), str(ROOT / "tools" / "mutants.py"), *args.mutants_args]
    return subprocess.run(cmd, cwd=ROOT).returncode


def cmd_envs(args: argparse.Namespace) -> int:
    """Create the environments only (useful before going offline)."""
    server_env()
    for line in BLENDER_LINES:
        blender_env(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("test", help="create the environments and run every test in each")
    t.add_argument("--blender", action="append", choices=list(BLENDER_LINES),
                   help="only these Blender lines (default: all)")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    d = sub.add_parser("demo", help="run the demo: generate a shot headless, print where it is")
    d.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    d.add_argument("--blender", default="4.5", choices=list(BLENDER_LINES))
    d.add_argument("--backend", default=None, help="preview (default) or trackgo when weights are set")
    sub.add_parser("envs", help="create all environments and exit")
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
