"""trackgo-prepare per-clip cost at the paper's size: 25 frames, 1024x576, two components.

A synthetic clip (scikit-image's astronaut as background, two textured shapes moving along
known paths) is prepared end to end (read, resize, sampling, LK tracking with the checks,
filters, PNG + NPZ writing). Prints name=value lines, including the tracking error against the
known motion.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.training import clips as clipio, layout, prepare  # noqa: E402
from server.training.tracking import LucasKanadeTracker  # noqa: E402
from tests.training.conftest import make_clip, write_frame_folder  # noqa: E402

FRAMES, W, H = 25, 1024, 576


def main() -> None:
    clip = make_clip(FRAMES)
    scale = 4.0
    frames = np.stack([cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
                       for f in clip.frames])
    labels = cv2.resize(clip.labels, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    root = Path(tempfile.mkdtemp(prefix="trackgo-prep-"))
    write_frame_folder(root / "input" / "clip", frames)
    (root / "input" / "masks").mkdir()
    cv2.imwrite(str(root / "input" / "masks" / "clip.png"), labels)
    settings = prepare.PrepareSettings(frames=FRAMES, width=W, height=H)
    source = clipio.find_clips(root / "input", exclude=(root / "input" / "masks",))[0]
    t0 = time.perf_counter()
    prepare.prepare_clip(source, root / "input" / "masks" / "clip.png", settings,
                         LucasKanadeTracker(), root / "ds")
    total = time.perf_counter() - t0
    record = layout.ClipRecord("clip", layout.clip_dir(root / "ds", "clip"), {})
    positions, visible, component = record.read_tracks()
    src_w = frames.shape[2]
    x, y, cw, ch = clipio.cover_crop_box(src_w, frames.shape[1], W, H)
    s = W / cw
    expected = clip.displacement[:, component] * scale * s
    err = np.linalg.norm(positions - positions[:1] - expected, axis=2)[visible]
    t1 = time.perf_counter()
    LucasKanadeTracker().track(record.read_frames(), positions[0], component)
    track = time.perf_counter() - t1
    print(f"frames={FRAMES} size={W}x{H} points={len(component)}")
    print(f"prepare_clip_seconds={total:.2f}")
    print(f"tracking_seconds={track:.2f}")
    print(f"visible_fraction={visible.mean():.3f}")
    print(f"track_error_px_median={np.median(err):.3f}")
    print(f"track_error_px_p99={np.percentile(err, 99):.3f}")
    print(f"track_error_px_max={err.max():.3f}")


if __name__ == "__main__":
    main()
