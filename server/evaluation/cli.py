"""``trackgo-eval``: FVD / FID / ObjMC of generated clips against a prepared real dataset.

    trackgo-eval REAL_DATASET --model TrackGo=out/trackgo --model SVD=out/svd \\
        --inception weights/inception-2015-12-05.pt --i3d weights/i3d_torchscript.pt \\
        --frames 14 --markdown table.md --csv table.csv

REAL_DATASET is a ``trackgo-prepare`` folder (frames + first-frame masks). Each model folder
holds one generated clip per real clip, named by clip id (a frame folder or a video file), made
from that clip's first frame and masks. Evaluation uses the first ``--frames`` frames (paper: 14).
ObjMC: per component, the anchor (``server.evaluation.objmc``) is tracked through the real clip
(the target) and through the generated clip; the table holds the mean distance in pixels.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from server.evaluation import objmc
from server.evaluation.features import ExtractorMissing, I3DExtractor, InceptionExtractor
from server.evaluation.fid import fid
from server.evaluation.fvd import fvd
from server.evaluation.report import ModelResult, to_csv, to_markdown
from server.training import clips as clipio
from server.training.layout import list_clips

METRICS = ("fvd", "fid", "objmc")


class EvalInputError(ValueError):
    """Inputs that do not line up (missing generated clips, wrong sizes, bad --model)."""


def parse_model(spec: str) -> tuple[str, Path]:
    name, sep, folder = spec.partition("=")
    if not sep or not name or not folder:
        raise EvalInputError(f"--model {spec!r}: expected NAME=FOLDER")
    if not Path(folder).is_dir():
        raise EvalInputError(f"--model {name}: folder not found: {folder}")
    return name, Path(folder)


def load_generated(folder: Path, clip_id: str, frames: int, size: tuple[int, int]) -> np.ndarray:
    """The generated clip for ``clip_id``: (frames, H, W, 3) at the real clip's size."""
    sources = {s.clip_id: s for s in clipio.find_clips(folder)}
    if clip_id not in sources:
        raise EvalInputError(f"{folder}: no generated clip {clip_id!r} (expected {folder}/{clip_id}/ "
                             f"frames or {folder}/{clip_id}.mp4)")
    video = clipio.read_frames(sources[clip_id], frames)
    if video.shape[1:3] != size:
        raise EvalInputError(f"{sources[clip_id].path}: frames are {video.shape[2]}x{video.shape[1]}, "
                             f"the real clip is {size[1]}x{size[0]}")
    return video


def evaluate(real_root: Path, models: list[tuple[str, Path]], frames: int = 14,
             metrics: tuple[str, ...] = METRICS, inception=None, i3d=None) -> list[ModelResult]:
    """One ModelResult per model. ``inception`` / ``i3d`` are FeatureExtractors (needed for FID / FVD)."""
    records = list_clips(real_root)
    if not records:
        raise EvalInputError(f"{real_root}: no prepared clips")
    real = {r.clip_id: r.read_frames()[:frames] for r in records}
    short = [cid for cid, v in real.items() if len(v) < frames]
    if short:
        raise EvalInputError(f"--frames {frames}: real clips {short} are shorter")
    masks = {r.clip_id: r.read_masks() for r in records}
    targets = {}
    if "objmc" in metrics:
        for cid, video in real.items():
            targets[cid] = [objmc.track_anchor(video, objmc.anchor_from_mask(m), objmc.window_for_mask(m))
                            for m in masks[cid]]
    real_stack = np.stack(list(real.values()))
    results = []
    for name, folder in models:
        generated = {cid: load_generated(folder, cid, frames, v.shape[1:3]) for cid, v in real.items()}
        gen_stack = np.stack([generated[cid] for cid in real])
        values: dict[str, float] = {}
        if "objmc" in metrics:
            per_video = [objmc.objmc_for_video(generated[cid], masks[cid], targets=targets[cid])
                         for cid in real]
            values["objmc"] = objmc.objmc_over_videos(per_video)
        if "fid" in metrics:
            values["fid"] = fid(real_stack.reshape(-1, *real_stack.shape[2:]),
                                gen_stack.reshape(-1, *gen_stack.shape[2:]), inception)
        if "fvd" in metrics:
            values["fvd"] = fvd(real_stack, gen_stack, i3d)
        results.append(ModelResult(name, len(real), values))
    return results


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="trackgo-eval", description=__doc__.split("\n")[0])
    p.add_argument("real", type=Path, help="trackgo-prepare dataset folder with the real clips")
    p.add_argument("--model", action="append", default=[], metavar="NAME=FOLDER", required=True,
                   help="generated clips of one model (repeatable)")
    p.add_argument("--frames", type=int, default=14, help="frames evaluated per clip (paper: 14)")
    p.add_argument("--metrics", default=",".join(METRICS), help="comma-separated: fvd,fid,objmc")
    p.add_argument("--inception", default=None, help="local inception-2015-12-05.pt (for FID)")
    p.add_argument("--i3d", default=None, help="local i3d_torchscript.pt (for FVD)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--markdown", type=Path, default=None, help="write the table here (also printed)")
    p.add_argument("--csv", type=Path, default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
        unknown = [m for m in metrics if m not in METRICS]
        if unknown or not metrics:
            raise EvalInputError(f"--metrics: unknown {unknown or 'empty'}; expected some of {', '.join(METRICS)}")
        if args.frames < 2:
            raise EvalInputError(f"--frames: expected at least 2, got {args.frames}")
        models = [parse_model(spec) for spec in args.model]
        inception = InceptionExtractor(args.inception, device=args.device) if "fid" in metrics else None
        i3d = I3DExtractor(args.i3d, device=args.device) if "fvd" in metrics else None
        results = evaluate(args.real, models, args.frames, metrics, inception, i3d)
    except (ExtractorMissing, ValueError, OSError) as exc:
        print(f"trackgo-eval: error: {exc}", file=sys.stderr)
        return 2
    table = to_markdown(results, str(args.real))
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if args.csv:
        args.csv.write_text(to_csv(results, str(args.real)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
