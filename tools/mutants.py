"""Mutation score of the core modules, with mutmut (PyPI), each module against its own fast tests.

Run through ``python3 dev.py mutants [paths]`` (which runs this file in ``.venvs/server``).
A module's tests are its own small selection, not the suite: mutmut runs them once per mutant.

Each module is measured in a scratch copy of the repository (``.mutants/<name>/``, ignored by
git), never in the working tree: mutmut writes its mutated copies and its bookkeeping beside the
sources, and a run cut short by its time budget must leave nothing half-mutated behind.

Prints, per module, ``mutants_<name>_killed=`` / ``_survived=`` / ``_no_tests=`` / ``_unchecked=`` /
``_score=`` lines (the score is killed / (killed + survived); timeouts count as killed, mutants no
selected test reaches count as survived; unchecked ones, left when the time budget ran out, count
for nothing), then each surviving mutant's diff with ``--show``. Not part of CI: minutes per module on two cores.
``--resume`` continues a run cut short by its budget; ``--recheck`` also checks the last run's
survivors again with today's tests (after adding tests, minutes instead of a whole run).
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".mutants"
COPIED = ["shared_protocol", "server", "blender_addon", "tests", "pyproject.toml"]


@dataclass(frozen=True)
class Module:
    name: str
    mutate: tuple[str, ...]      # files (or globs) mutmut mutates
    package: str                 # the source tree mutmut copies (the module's package)
    tests: tuple[str, ...]       # pytest arguments: the module's own fast tests


MODULES = [
    Module("protocol_validation", ("shared_protocol/validation.py",), "shared_protocol",
           ("tests/protocol/test_validation.py", "tests/protocol/test_boundaries.py",
            "tests/protocol/test_error_messages.py", "tests/protocol/test_validation_messages.py",
            "tests/protocol/test_point_tracks.py",
            "tests/protocol/test_track_options.py", "tests/protocol/test_timing.py")),
    Module("protocol_codec", ("shared_protocol/codec.py", "shared_protocol/stream.py",
                              "shared_protocol/limits.py", "shared_protocol/addresses.py"), "shared_protocol",
           ("tests/protocol/test_codec.py", "tests/protocol/test_codec_errors.py", "tests/protocol/test_stream.py",
            "tests/protocol/test_limits_and_versions.py", "tests/protocol/test_addresses.py")),
    Module("protocol_images", ("shared_protocol/images.py",), "shared_protocol",
           ("tests/protocol/test_images.py", "tests/protocol/test_png_checks.py",
            "tests/protocol/test_validation.py")),
    # not tests/protocol whole: test_fuzz.py (hypothesis, seconds per run) reaches every builder
    Module("protocol_builders", ("shared_protocol/builders.py", "shared_protocol/messages.py",
                                 "shared_protocol/errors.py", "shared_protocol/version.py"), "shared_protocol",
           ("tests/protocol/test_builders.py", "tests/protocol/test_codec.py", "tests/protocol/test_stream.py",
            "tests/protocol/test_point_tracks.py", "tests/protocol/test_track_options.py",
            "tests/protocol/test_timing.py", "tests/protocol/test_limits_and_versions.py")),
    Module("scheduler", ("server/scheduler.py",), "server",
           ("tests/server/test_server_scheduler.py", "tests/server/test_server_concurrency.py")),
    Module("service", ("server/service.py",), "server",
           ("tests/server/test_service_plans.py", "tests/server/test_service_sessions.py",
            "tests/server/test_service_jobs.py", "tests/server/test_service_startup.py", "tests/server/test_service_mutants.py",
            "tests/server/test_service_survivors.py",
            "tests/server/test_server_job.py", "tests/server/test_server_reliability.py",
            "tests/server/test_server_concurrency.py", "tests/server/test_protocol_defects.py",
            "tests/server/test_instance_id.py::test_welcome_and_pong_carry_this_process_instance",
            "--deselect", "tests/server/test_protocol_defects.py::test_sigterm_with_stdout_closed_exits_zero")),
    Module("motion", ("server/motion/*",), "server", ("tests/motion",)),
    Module("trackgo_processor", ("server/trackgo/processor.py", "server/trackgo/attention.py"), "server",
           ("tests/model/test_adapter_equations.py", "tests/model/test_processor_mutants.py")),
    Module("training_losses", ("server/training/losses.py",), "server", ("tests/training/test_losses.py",)),
    # blender_addon/io/ file by file (new io modules join when they have Blender-free tests);
    # projection.py and plan_drawing.py are measured in addon_io_scene, decode.py in addon_io_decode
    Module("addon_io", tuple(f"blender_addon/io/{f}.py" for f in
                             ("client", "job", "launcher", "frames", "raster", "coords", "pairing", "framing",
                              "prepare", "progress", "review", "timing", "extend", "takes")),
           "blender_addon",
           ("tests/addon_io", "--deselect",
            "tests/addon_io/test_frames_launcher.py::test_launcher_starts_and_stops_the_real_server")),
    # The add-on's scene-projection and overlay-drawing code (issue 14), measured apart from the
    # 14 files above so each run fits a time budget.
    Module("addon_io_scene", ("blender_addon/io/projection.py", "blender_addon/io/plan_drawing.py"),
           "blender_addon", ("tests/addon_io/test_projection.py", "tests/addon_io/test_projection_exact.py",
                             "tests/addon_io/test_plan_drawing.py")),
    # The separate-process reference reader, against its one test file (stand-in children, no
    # Blender): a module of its own so it is measured in a minute, not in a re-run of the 14 files.
    Module("addon_io_decode", ("blender_addon/io/decode.py",), "blender_addon", ("tests/addon_io/test_decode.py",)),
]

KILLED = {1, 3, 36, 24, -24, 152, 255, 37}     # mutmut's exit codes for killed / timed out
SURVIVED = {0}                                 # the tests ran the mutant and passed
NO_TESTS = {5, 33}                             # no selected test reaches the mutated function


def select(paths: list[str]) -> list[Module]:
    if not paths:
        return MODULES
    chosen = [m for m in MODULES if any(p.rstrip("/") in (m.name, *m.mutate, m.package)
                                        or any(f.startswith(p.rstrip("/") + "/") for f in m.mutate)
                                        for p in paths)]
    if not chosen:
        raise SystemExit(f"mutants: no module matches {paths}; known: "
                         + ", ".join(f"{m.name} ({' '.join(m.mutate)})" for m in MODULES))
    return chosen


IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")


def refresh_tests(work: Path) -> None:
    """Resume a cut-short run with today's tests: mutmut keeps its verdicts on unchanged sources."""
    for where in (work / "tests", work / "mutants" / "tests"):
        shutil.rmtree(where, ignore_errors=True)
        shutil.copytree(ROOT / "tests", where, ignore=IGNORE)
    # which tests reach which function is measured again: new tests must be run against old mutants
    (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)


def prepare(module: Module) -> Path:
    """A fresh scratch copy of the repository with mutmut's settings for ``module``."""
    work = SCRATCH / module.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ignore = IGNORE
    for name in COPIED:
        src = ROOT / name
        (shutil.copytree(src, work / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, work / name))
    write_settings(work, module)
    return work


def write_settings(work: Path, module: Module) -> None:
    """The repository's pyproject.toml plus mutmut's settings for ``module`` (rewritten on resume,
    so a changed test selection applies)."""
    also = [p for p in ("shared_protocol", "server", "blender_addon") if p != module.package]
    settings = {
        "source_paths": [module.package + "/"],
        "only_mutate": list(module.mutate),
        "also_copy": [p + "/" for p in also],
        "pytest_add_cli_args": ["-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider"],
        "pytest_add_cli_args_test_selection": list(module.tests),
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8") + "\n".join(lines) + "\n"
    (work / "pyproject.toml").write_text(text, encoding="utf-8")


def tally(work: Path) -> dict[str, list[str]]:
    """Mutant names by outcome, from mutmut's per-file ``.meta`` records."""
    out: dict[str, list[str]] = {"killed": [], "survived": [], "no_tests": [], "unchecked": []}
    for meta in sorted((work / "mutants").rglob("*.meta")):
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            kind = ("killed" if code in KILLED else "survived" if code in SURVIVED
                    else "no_tests" if code in NO_TESTS else "unchecked")
            out[kind].append(name)
    return out


def reopen_survivors(work: Path) -> int:
    """Mark the last run's survivors (and mutants no test reached) unchecked, so a resumed run
    checks them again with today's tests; kills stand (tests are only ever added or tightened)."""
    reopened = 0
    for meta in sorted((work / "mutants").rglob("*.meta")):
        data = json.loads(meta.read_text())
        codes = data.get("exit_code_by_key", {})
        for name, code in codes.items():
            if code in SURVIVED or code in NO_TESTS:
                codes[name] = None
                reopened += 1
        meta.write_text(json.dumps(data, indent=4))
    return reopened


def measure(module: Module, budget_s: float, children: int, show: bool, resume: bool,
            recheck: bool = False, report: bool = False) -> dict[str, list[str]]:
    work = SCRATCH / module.name
    if report:
        if not (work / "mutants").is_dir():
            raise SystemExit(f"mutants: no run of {module.name} in {work} to report")
        batches = []
    elif (resume or recheck) and (work / "mutants").is_dir():
        if recheck:
            print(f"# {module.name}: {reopen_survivors(work)} survivors of the last run reopened")
        refresh_tests(work)
        write_settings(work, module)
        # --resume: only the mutants the last budget left unchecked; earlier verdicts stand.
        # --recheck: also the last run's survivors, marked unchecked above (not `mutmut run NAME...`,
        # whose clean run fails on parametrised test ids). Checked on protocol_images: the 7
        # survivors that new tests target were killed, the 9 judged equivalent survived again.
        # For a score from nothing, run without either.
        batches = [[]]
    else:
        work = prepare(module)
        batches = [[]]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # only the scratch copy imports
    env["PYTHONUNBUFFERED"] = "1"
    started = time.monotonic()
    log = work / "mutmut.log"
    rc: int | str = 0
    with open(log, "a") as fh:
        for names in batches:
            cmd = [sys.executable, "-c", "from mutmut.__main__ import cli; cli()", "run",
                   "--max-children", str(children), *names]
            left = budget_s - (time.monotonic() - started)
            # its own process group: when the budget runs out, mutmut's forked workers go with it
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=max(left, 1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = "budget"
                break
    result = tally(work)
    killed, survived, no_tests, unchecked = (len(result[k]) for k in ("killed", "survived", "no_tests", "unchecked"))
    survived += no_tests     # a mutant no test reaches is a mistake nothing would catch
    score = killed / (killed + survived) if killed + survived else float("nan")
    print(f"mutants_{module.name}_killed={killed}")
    print(f"mutants_{module.name}_survived={survived}")
    print(f"mutants_{module.name}_no_tests={no_tests}")
    print(f"mutants_{module.name}_unchecked={unchecked}")
    print(f"mutants_{module.name}_score={score:.3f}")
    print(f"mutants_{module.name}_seconds={time.monotonic() - started:.0f}")
    if rc not in (0, "budget") and not killed + survived:
        print(f"# {module.name}: mutmut exited with {rc}; see {log}")
    if rc == "budget":
        print(f"# {module.name}: time budget of {budget_s:.0f} s spent; {unchecked} mutants not checked")
    sources: dict = {}
    for kind, label in (("no_tests", "no test reaches"), ("survived", "survived")):
        for name in result[kind]:
            print(f"# {label}: {name}")
            if show:
                print(mutant_diff(work, name, sources))
    return result


def mutant_diff(work: Path, name: str, sources: dict) -> str:
    """The lines a mutant changes, read from mutmut's mutated copy of its file.

    `mutmut show` re-parses the whole mutated file for every mutant (minutes per survivor on a
    big module, under load); this parses each file once. `sources` caches {file: {function: text}}.
    """
    module_path, _, function = name.rpartition(".")
    path = work / "mutants" / (module_path.replace(".", "/") + ".py")
    if path not in sources:
        try:
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            sources[path] = {node.name: lines[node.lineno - 1:node.end_lineno] for node in ast.walk(ast.parse(text))
                             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        except (OSError, SyntaxError) as exc:
            sources[path] = {}
            return f"#   (no diff: {exc})"
    functions = sources[path]
    original = functions.get(function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
    mutant = functions.get(function)
    if original is None or mutant is None:
        return f"#   (no diff: {function} not found in {path.relative_to(work)})"
    # the def lines differ in the name: compare them as if both had the original's name
    original = [original[0].replace(function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig", function), *original[1:]]
    changed = difflib.unified_diff(original, mutant, lineterm="", n=0)
    return "\n".join(line for line in changed if line[:1] in "-+" and line[:3] not in ("---", "+++"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="*", help="modules by name or path (default: all)")
    ap.add_argument("--budget", type=float, default=900, help="seconds per module (default 900)")
    ap.add_argument("--children", type=int, default=2, help="mutants run in parallel (default 2)")
    ap.add_argument("--show", action="store_true", help="print each surviving mutant's diff")
    ap.add_argument("--resume", action="store_true",
                    help="continue the last run in .mutants/ with the mutants it left unchecked "
                         "(earlier verdicts stand)")
    ap.add_argument("--recheck", action="store_true",
                    help="like --resume, and check the last run's survivors again with today's tests "
                         "(its kills stand); a full score in minutes after adding tests")
    ap.add_argument("--report", action="store_true",
                    help="print the last run's figures (and diffs with --show) without running anything")
    ap.add_argument("--list", action="store_true", help="list the modules and their tests, then exit")
    args = ap.parse_args(argv)
    if args.list:
        for m in MODULES:
            print(f"{m.name}: {' '.join(m.mutate)}  <-  {' '.join(m.tests)}")
        return 0
    for module in select(args.paths):
        measure(module, args.budget, args.children, args.show, args.resume, args.recheck, args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
