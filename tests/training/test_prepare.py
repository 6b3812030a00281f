"""trackgo-prepare on synthetic clips with known motion."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from server.motion import points_per_component
from server.training import layout, prepare
from server.training.tracking import LucasKanadeTracker

from .conftest import SRC_H, SRC_W, make_clip, write_frame_folder

W, H = 256, 192          # training size used here (multiples of 64, same 4:3 aspect as source)
SCALE = W / SRC_W


def settings(**kw):
    base = dict(frames=10, width=W, height=H, min_motion=2.0)
    base.update(kw)
    return prepare.PrepareSettings(**base)


def run(root, out, **kw):
    return prepare.run(root, root / "masks", out, settings(**kw), LucasKanadeTracker(),
                       progress=False, log=lambda s: None)


def test_builder_recovers_known_tracks_within_one_pixel(clip_folder, synthetic_clip, tmp_path):
    manifest = run(clip_folder, tmp_path / "ds")
    assert [c["id"] for c in manifest["clips"]] == ["walk"] and manifest["skipped"] == []
    record = layout.list_clips(tmp_path / "ds")[0]
    positions, visible, component = record.read_tracks()
    assert positions.shape[:2] == visible.shape == (10, len(component))
    expected_disp = synthetic_clip.displacement[:, component, :] * SCALE     # (L, N, 2)
    error = np.linalg.norm(positions - positions[:1] - expected_disp, axis=2)
    assert visible.mean() > 0.8
    assert all(visible.all(axis=0)[component == j].sum() >= 8 for j in range(2))
    assert error[visible].max() < 1.0, f"worst visible error {error[visible].max():.3f} px"
    frames = record.read_frames()
    assert frames.shape == (10, H, W, 3)


def test_points_per_component_follow_eq10_and_largest_first(clip_folder, tmp_path):
    run(clip_folder, tmp_path / "ds")
    record = layout.list_clips(tmp_path / "ds")[0]
    _, _, component = record.read_tracks()
    masks = record.read_masks()
    assert len(masks) == 2 and masks[0].sum() > masks[1].sum()      # ellipse first
    shares = [m.mean() for m in masks]
    assert 0.1 < shares[0] < 0.4 and shares[1] < 0.1
    counts = [int((component == j).sum()) for j in range(2)]
    expected = [16 + 48 / 0.3 * (p - 0.1) for p in shares]
    assert counts[1] == 16 == points_per_component(shares[1])
    assert abs(counts[0] - expected[0]) <= 0.5 and 16 < counts[0] < 64
    # Every sampled point starts inside its own component's mask.
    pos0 = np.round(record.read_tracks()[0][0]).astype(int)
    for j in range(2):
        pts = pos0[component == j]
        assert masks[j][pts[:, 1], pts[:, 0]].all()


def test_filters_reject_static_clips_and_cuts_and_errors_do_not_abort(tmp_path):
    root = tmp_path / "input"
    moving, static = make_clip(), make_clip(moving=False)
    write_frame_folder(root / "a_static", static.frames)
    cut = moving.frames.copy()
    cut[5:] = cv2.resize(skdata.chelsea(), (SRC_W, SRC_H))       # another shot from frame 5
    write_frame_folder(root / "b_cut", cut)
    write_frame_folder(root / "c_nomask", moving.frames)
    write_frame_folder(root / "d_ok", moving.frames)
    (root / "masks").mkdir()
    for name in ("a_static", "b_cut", "d_ok"):
        cv2.imwrite(str(root / "masks" / f"{name}.png"), moving.labels)
    manifest = run(root, tmp_path / "ds")
    assert [c["id"] for c in manifest["clips"]] == ["d_ok"]
    reasons = {s["id"]: (s["kind"], s["reason"]) for s in manifest["skipped"]}
    assert reasons["a_static"][0] == "filtered" and reasons["a_static"][1].startswith("motion")
    assert reasons["b_cut"][0] == "filtered" and "frame 5" in reasons["b_cut"][1]
    assert reasons["c_nomask"][0] == "error" and "c_nomask" in reasons["c_nomask"][1]
    on_disk = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert on_disk == manifest
    assert not list((tmp_path / "ds" / "clips").glob(".*"))     # no partial folders left


def test_resume_skips_finished_clips_and_retries_errors(clip_folder, synthetic_clip, tmp_path):
    write_frame_folder(clip_folder / "late", synthetic_clip.frames)        # no mask yet
    calls = []

    class CountingTracker(LucasKanadeTracker):
        def track(self, frames, points, groups=None):
            calls.append(1)
            return super().track(frames, points, groups)

    s = settings()
    first = prepare.run(clip_folder, clip_folder / "masks", tmp_path / "ds", s, CountingTracker(),
                        progress=False, log=lambda m: None)
    assert [c["id"] for c in first["clips"]] == ["walk"] and len(calls) == 1
    stamp = (tmp_path / "ds" / "clips" / "walk" / "clip.json").stat().st_mtime_ns
    cv2.imwrite(str(clip_folder / "masks" / "late.png"), synthetic_clip.labels)
    second = prepare.run(clip_folder, clip_folder / "masks", tmp_path / "ds", s, CountingTracker(),
                         progress=False, log=lambda m: None)
    assert [c["id"] for c in second["clips"]] == ["late", "walk"] and len(calls) == 2
    assert (tmp_path / "ds" / "clips" / "walk" / "clip.json").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="different settings.*frames"):
        prepare.run(clip_folder, clip_folder / "masks", tmp_path / "ds", settings(frames=8),
                    CountingTracker(), progress=False, log=lambda m: None)


def test_video_file_input_and_mask_folders(tmp_path, synthetic_clip):
    root = tmp_path / "input"
    root.mkdir()
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (SRC_W, SRC_H))
    assert writer.isOpened()
    for f in synthetic_clip.frames:
        writer.write(np.ascontiguousarray(f[:, :, ::-1]))
    writer.release()
    (root / "masks" / "clip").mkdir(parents=True)
    for j in (1, 2):
        cv2.imwrite(str(root / "masks" / "clip" / f"m{j}.png"),
                    (synthetic_clip.labels == j).astype(np.uint8) * 255)
    manifest = run(root, tmp_path / "ds")
    assert [c["id"] for c in manifest["clips"]] == ["clip"]
    record = layout.list_clips(tmp_path / "ds")[0]
    assert record.read_frames().shape == (10, H, W, 3) and len(record.read_masks()) == 2


def test_cli_reports_bad_settings_by_field(tmp_path, capsys):
    assert prepare.main([str(tmp_path), str(tmp_path / "o"), "--width", "1000"]) == 2
    assert "width: expected a positive multiple of 64" in capsys.readouterr().err


def test_mask_size_mismatch_is_a_clip_error(clip_folder, tmp_path):
    cv2.imwrite(str(clip_folder / "masks" / "walk.png"), np.ones((100, 100), np.uint8))
    manifest = run(clip_folder, tmp_path / "ds")
    (skip,) = manifest["skipped"]
    assert skip["kind"] == "error" and "does not match the clip's frames 320x240" in skip["reason"]


def test_cli_happy_path_and_unknown_tracker(clip_folder, tmp_path, capsys):
    out = tmp_path / "ds"
    assert prepare.main([str(clip_folder), str(out), "--frames", "10", "--width", str(W),
                         "--height", str(H), "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [c["id"] for c in manifest["clips"]] == ["walk"]
    assert manifest["settings"]["width"] == W and manifest["settings"]["tracker"] == "lucas-kanade"
    assert prepare.main([str(clip_folder), str(tmp_path / "o2"), "--tracker", "nope"]) == 2
    assert "tracker: unknown tracker 'nope'" in capsys.readouterr().err
    assert prepare.main([str(clip_folder), str(tmp_path / "o3"), "--tracker", "cotracker"]) == 2
    assert "--tracker-weights" in capsys.readouterr().err


def test_cli_records_tracker_options_and_refuses_a_resume_that_changes_them(clip_folder, tmp_path,
                                                                           capsys):
    """The LK thresholds decide which points survive: a resume with other values must not mix
    clips tracked two ways into one dataset."""
    out = tmp_path / "ds"
    common = [str(clip_folder), str(out), "--frames", "10", "--width", str(W), "--height", str(H),
              "--no-progress"]
    assert prepare.main(common + ["--fb-threshold", "0.8", "--coherence-threshold", "0"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["fb_threshold"] == 0.8
    assert manifest["settings"]["coherence_threshold"] == 0
    capsys.readouterr()
    assert prepare.main(common + ["--fb-threshold", "2"]) == 2
    err = capsys.readouterr().err
    assert "different settings (coherence_threshold, fb_threshold)" in err
    assert prepare.main(common + ["--fb-threshold", "-1"]) == 2
    assert "fb_threshold: expected a positive number" in capsys.readouterr().err


def test_defaults_keep_the_papers_six_components():
    assert prepare.PrepareSettings().max_components == 6 == prepare.PAPER_MAX_COMPONENTS
    assert prepare.parse_args(["in", "out"]).max_components == 6


def test_motion_filter_ignores_points_once_they_are_invisible():
    from server.training.filters import track_motion

    frames, points = 10, 20
    positions = np.zeros((frames, points, 2), np.float32)
    positions[:, :, 0] = np.arange(frames)[:, None] * 13.0        # every point moves 117 px in the end
    visible = np.zeros((frames, points), bool)
    visible[0] = True
    visible[:, :6] = True                                         # 6 points stay visible
    visible[:3, 6:] = True                                        # the others leave after 26 px
    assert track_motion(positions, visible) == pytest.approx(26.0)
    visible[:, 6:] = False
    visible[0] = True                                             # 14 points never seen again
    assert track_motion(positions, visible) == pytest.approx(117.0)
    assert track_motion(positions, np.eye(frames, points, dtype=bool)[:, :0]) == 0.0
    only_first = np.zeros((frames, points), bool)
    only_first[0] = True
    assert track_motion(positions, only_first) == 0.0
