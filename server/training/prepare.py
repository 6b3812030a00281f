"""``trackgo-prepare``: clips + first-frame component masks -> a training dataset folder.

Per clip: read and cut to the training length, centre-crop/resize to the training size, take at
most six components (largest first), sample K points per component (Eq. 10, 3K random pixels ->
K-means, ``server.motion.sample_points``), track them (Lucas-Kanade with a forward-backward
check, or a plug-in tracker), filter (cuts, too little motion) and write the clip atomically.
Finished clips are skipped on a re-run; a failing clip is recorded and skipped, never fatal.
"""
from __future__ import annotations

import argparse
import sys
import traceback
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from server.motion import MAX_COMPONENTS, sample_points
from server.training import clips as clipio
from server.training import filters, layout
from server.training.tracking import PointTracker, TrackerError, load_tracker

# The paper's s: at most 6 components per training clip (P can draw up to MAX_COMPONENTS).
PAPER_MAX_COMPONENTS = 6


@dataclass(frozen=True)
class PrepareSettings:
    """Everything that decides a clip's content; a resumed run must use the same values."""

    frames: int = 25
    width: int = 1024
    height: int = 576
    stride: int = 1
    max_components: int = PAPER_MAX_COMPONENTS
    min_motion: float = 2.0
    cut_threshold: float = 0.5
    seed: int = 0
    tracker: str = "lucas-kanade"
    tracker_weights: str = ""           # the tracker's local checkpoint, if it takes one
    fb_threshold: float = 1.0           # Lucas-Kanade forward-backward error (px)
    coherence_threshold: float = 0.5    # Lucas-Kanade affine coherence (px); 0 = off

    def check(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if value < 64 or value % 64:
                raise ValueError(f"{name}: expected a positive multiple of 64, got {value}")
        if self.frames < 2:
            raise ValueError(f"frames: expected at least 2, got {self.frames}")
        if self.stride < 1:
            raise ValueError(f"stride: expected at least 1, got {self.stride}")
        if not self.fb_threshold > 0:
            raise ValueError(f"fb_threshold: expected a positive number of px, got {self.fb_threshold}")
        if not self.coherence_threshold >= 0:
            raise ValueError(f"coherence_threshold: expected px >= 0 (0 = off), "
                             f"got {self.coherence_threshold}")
        if not 1 <= self.max_components <= MAX_COMPONENTS:
            raise ValueError(f"max_components: expected 1..{MAX_COMPONENTS}, "
                             f"got {self.max_components}")


class ClipRejected(Exception):
    """The clip is readable but a filter rejects it (deterministic: not retried on resume)."""


def clip_seed(base: int, clip_id: str) -> int:
    """A per-clip seed that does not depend on which other clips are in the folder."""
    return (base * 1_000_003 + zlib.crc32(clip_id.encode())) % (2**31)


def prepare_clip(source: clipio.ClipSource, mask_path: Path, settings: PrepareSettings,
                 tracker: PointTracker, out_root: Path) -> dict:
    """Build and write one clip; returns its clip.json metadata. Raises ClipError/ClipRejected."""
    frames = clipio.read_frames(source, settings.frames, settings.stride)
    masks = clipio.read_component_masks(mask_path)
    masks = clipio.largest_components(masks, settings.max_components)
    frames, masks = clipio.fit_to_size(frames, masks, settings.width, settings.height)
    masks = [m for m in masks if m.any()]
    if not masks:
        raise clipio.ClipError(f"{mask_path}: every component vanished after resizing")

    cut = filters.find_cut(frames, settings.cut_threshold)
    if cut is not None:
        raise ClipRejected(f"cut: scene change at frame {cut} (histogram distance above "
                           f"{settings.cut_threshold})")

    seed = clip_seed(settings.seed, source.clip_id)
    points, component, components_meta = [], [], []
    for j, mask in enumerate(masks):
        pts = sample_points(mask, None, seed + j, field=f"masks[{j}]")
        points.append(pts)
        component.append(np.full(len(pts), j, np.int16))
        components_meta.append({"area_share": float(mask.mean()), "points": len(pts)})
    points = np.concatenate(points)
    component = np.concatenate(component)

    positions, visible = tracker.track(frames, points, component)
    motion = filters.track_motion(positions, visible)
    if motion < settings.min_motion:
        raise ClipRejected(f"motion: median point motion {motion:.2f} px is below "
                           f"{settings.min_motion} px")

    meta = {
        "source": str(source.path),
        "frames": int(frames.shape[0]), "width": settings.width, "height": settings.height,
        "components": components_meta, "points": int(len(points)),
        "tracker": tracker.name, "seed": seed, "motion_px": motion,
        "visible_fraction": float(visible.mean()),
    }
    layout.write_clip(out_root, source.clip_id, frames, masks, positions, visible, component, meta)
    return meta


def build_manifest(out_root: Path, settings: PrepareSettings, skipped: dict[str, dict]) -> dict:
    """The manifest from what is on disk now (complete clips) plus this run's skipped clips."""
    clips_root = Path(out_root) / "clips"
    entries = []
    for meta_path in sorted(clips_root.glob(f"*/{layout.CLIP_META}")):
        clip_id = meta_path.parent.name
        entries.append({"id": clip_id, "path": f"clips/{clip_id}"})
    done = {e["id"] for e in entries}
    return {
        "format": layout.FORMAT_NAME, "version": layout.FORMAT_VERSION,
        "settings": asdict(settings), "clips": entries,
        "skipped": [dict(v, id=k) for k, v in sorted(skipped.items()) if k not in done],
    }


def _previous_skips(out_root: Path, settings: PrepareSettings) -> dict[str, dict]:
    """Filter rejections from an earlier run with the same settings (errors are retried)."""
    try:
        manifest = layout.read_manifest(out_root)
    except layout.DatasetFormatError:
        return {}
    if manifest.get("settings") != asdict(settings):
        old = manifest.get("settings") or {}
        changed = sorted(k for k in asdict(settings) if old.get(k) != asdict(settings)[k])
        raise ValueError(f"output: {out_root} was prepared with different settings "
                         f"({', '.join(changed)}); use a new output folder")
    return {s["id"]: {k: v for k, v in s.items() if k != "id"}
            for s in manifest.get("skipped", []) if s.get("kind") == "filtered"}


def run(input_dir: Path, masks_dir: Path, out_root: Path, settings: PrepareSettings,
        tracker: PointTracker, progress: bool = True, log=print) -> dict:
    """Prepare every clip in ``input_dir``; returns the manifest that was written."""
    from tqdm import tqdm

    settings.check()
    out_root = Path(out_root)
    (out_root / "clips").mkdir(parents=True, exist_ok=True)
    skipped = _previous_skips(out_root, settings)
    sources = clipio.find_clips(input_dir, exclude=(masks_dir, out_root))
    if not sources:
        raise clipio.ClipError(f"input: no video files or frame folders in {input_dir}")
    bar = tqdm(sources, desc="clips", unit="clip", disable=not progress, file=sys.stderr)
    for source in bar:
        bar.set_postfix_str(source.clip_id)
        if layout.is_complete(out_root, source.clip_id) or source.clip_id in skipped:
            continue
        try:
            mask_path = clipio.find_masks(masks_dir, source.clip_id)
            prepare_clip(source, mask_path, settings, tracker, out_root)
        except ClipRejected as exc:
            skipped[source.clip_id] = {"kind": "filtered", "reason": str(exc)}
            log(f"skipped {source.clip_id}: {exc}")
        except Exception as exc:  # one bad clip must not abort the whole run
            skipped[source.clip_id] = {"kind": "error", "reason": f"{type(exc).__name__}: {exc}"}
            log(f"error in {source.clip_id}: {type(exc).__name__}: {exc}")
            if not isinstance(exc, (ValueError, OSError)):
                log(traceback.format_exc())
        layout.write_json_atomic(out_root / layout.MANIFEST,
                                 build_manifest(out_root, settings, skipped))
    manifest = build_manifest(out_root, settings, skipped)
    layout.write_json_atomic(out_root / layout.MANIFEST, manifest)
    log(f"{len(manifest['clips'])} clips ready, {len(manifest['skipped'])} skipped -> {out_root}")
    return manifest


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="trackgo-prepare", description=__doc__.split("\n")[0])
    p.add_argument("input", type=Path, help="folder of clips: video files and/or frame folders")
    p.add_argument("output", type=Path, help="dataset folder to create or resume")
    p.add_argument("--masks", type=Path, default=None,
                   help="folder with <clip>.png label images or <clip>/ mask folders "
                        "(default: INPUT/masks)")
    d = PrepareSettings()
    p.add_argument("--frames", type=int, default=d.frames, help="frames per clip (paper: 25)")
    p.add_argument("--width", type=int, default=d.width, help="multiple of 64 (paper: 1024)")
    p.add_argument("--height", type=int, default=d.height, help="multiple of 64 (paper: 576)")
    p.add_argument("--stride", type=int, default=d.stride, help="keep every n-th source frame")
    p.add_argument("--max-components", type=int, default=d.max_components)
    p.add_argument("--min-motion", type=float, default=d.min_motion,
                   help="reject clips whose median point moves less than this many px")
    p.add_argument("--cut-threshold", type=float, default=d.cut_threshold,
                   help="Bhattacharyya histogram distance between frames that marks a cut")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--tracker", default=d.tracker,
                   help="lucas-kanade | cotracker | package.module:factory")
    p.add_argument("--tracker-weights", default=None, help="local checkpoint for the tracker")
    p.add_argument("--fb-threshold", type=float, default=1.0,
                   help="Lucas-Kanade forward-backward error (px) above which a point is dropped")
    p.add_argument("--coherence-threshold", type=float, default=0.5,
                   help="drop points further than this (px) from their component's RANSAC affine "
                        "motion; 0 turns the check off (strongly deforming objects)")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = PrepareSettings(frames=args.frames, width=args.width, height=args.height,
                               stride=args.stride, max_components=args.max_components,
                               min_motion=args.min_motion, cut_threshold=args.cut_threshold,
                               seed=args.seed, tracker=args.tracker,
                               tracker_weights=str(args.tracker_weights or ""),
                               fb_threshold=args.fb_threshold,
                               coherence_threshold=args.coherence_threshold)
    try:
        settings.check()
        options = {}
        if args.tracker in ("lucas-kanade", "lk"):
            options = {"fb_threshold": settings.fb_threshold,
                       "coherence_threshold": settings.coherence_threshold or None}
        tracker = load_tracker(args.tracker, settings.tracker_weights or None, **options)
        masks_dir = args.masks or args.input / "masks"
        if not masks_dir.is_dir():
            raise clipio.ClipError(f"masks: expected a folder of masks at {masks_dir}")
        run(args.input, masks_dir, args.output, settings, tracker, progress=not args.no_progress,
            log=lambda s: print(s, file=sys.stderr))
    except (ValueError, TrackerError, OSError) as exc:
        print(f"trackgo-prepare: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
