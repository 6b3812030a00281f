"""benchmarks/gpu_check.py --smoke: the GPU check's own code on CPU with the tiny config, so the
script that will be run on a GPU machine cannot rot unnoticed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_smoke_writes_every_figure(tmp_path):
    out = tmp_path / "smoke.json"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--smoke", "--out", str(out)],
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["config"] == "tiny (smoke)"
    assert set(report["generation"]) == {"plain_svd", "trackgo", "dual_clock", "trackgo_dual_clock"}
    for figures in report["generation"].values():
        assert figures["seconds"] > 0 and "error" not in figures
    assert report["generation_offload_16gb"] == {"skipped": "needs CUDA"}
    assert report["complete"] is True
    assert report["training_step_bf16"]["seconds"] > 0 and report["training_step_bf16"]["gradient_checkpointing"]
    # and, for the comparison, the same step with diffusers' checkpointing alone
    assert report["training_step_bf16"]["without_temporal_checkpointing"]["seconds"] > 0
    # what the paper config trains: the tiny adapter (~24K) and its SVD's temporal layers (485,388
    # weights, less the W_q / W_k the svd_query_key copies stand in for)
    assert 0.45 < report["training_step_bf16"]["trained_params_M"] < 0.6
    assert report["mask_fp16_vs_fp32"]["identical_fraction"] == 1.0 and report["mask_fp16_vs_fp32"]["entries"] > 0
    printed = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert float(printed["generation.trackgo.seconds"]) == report["generation"]["trackgo"]["seconds"]
    assert float(printed["generation.trackgo_dual_clock.seconds"]) > 0
    # the dual-clock rows really ran the hold: denoising starts at the weak clock, fewer UNet calls
    calls = {name: figures["unet_calls"] for name, figures in report["generation"].items() if "unet_calls" in figures}
    assert calls["dual_clock"] < calls["trackgo"] and calls["trackgo_dual_clock"] == calls["dual_clock"], calls


def test_gpu_check_without_a_gpu_and_without_smoke_says_so(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")],
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "needs a CUDA GPU" in result.stderr


def run_check(tmp_path, *args, prelude=""):
    """gpu_check.main(--smoke ...) in a child, after ``prelude`` (Python run with gpu_check imported)."""
    out = tmp_path / "check.json"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import gpu_check\n" + prelude +
            "\ngpu_check.main(['--smoke', '--out', sys.argv[2], *sys.argv[3:]])")
    result = subprocess.run([sys.executable, "-c", code, str(ROOT / "benchmarks"), str(out), *args],
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=600)
    return result, json.loads(out.read_text())


def test_gpu_check_skips_what_the_budget_cannot_hold_and_still_trains(tmp_path):
    # 1 s minus the training step's reserve leaves nothing for generation: every variant says so
    result, report = run_check(tmp_path, "--budget-s", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert report["complete"] is True
    for name, figures in report["generation"].items():
        assert figures == {"skipped": figures["skipped"]} and figures["skipped"].startswith("time budget"), name
    assert report["training_step_bf16"]["seconds"] > 0


def test_gpu_check_records_a_failed_section_runs_the_rest_and_exits_1(tmp_path):
    result, report = run_check(tmp_path, prelude=(
        "def broken(*a, **k):\n    raise RuntimeError('mask broke')\ngpu_check.mask_agreement = broken"))
    assert result.returncode == 1
    assert "1 section(s) failed: mask_fp16_vs_fp32" in result.stderr
    assert report["mask_fp16_vs_fp32"] == {"error": "RuntimeError: mask broke"}
    assert report["complete"] is True and report["generation"]["trackgo"]["seconds"] > 0
    assert report["training_step_bf16"]["seconds"] > 0
