"""trackgo-eval end to end: ObjMC wiring (0 for identical clips, the known offset), tables."""
from __future__ import annotations

import csv
import io

import cv2
import numpy as np
import pytest

from server.evaluation import cli
from server.training.layout import list_clips

from .conftest import FRAMES, write_generated


def real_videos(root):
    return {r.clip_id: r.read_frames() for r in list_clips(root)}


def shifted(video, dx, dy):
    """Frames 1.. moved by (dx, dy); frame 0 (the conditioning image) unchanged."""
    out = video.copy()
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    for i in range(1, len(video)):
        out[i] = cv2.warpAffine(video[i], m, video.shape[2:0:-1], borderMode=cv2.BORDER_REPLICATE)
    return out


def test_objmc_zero_for_identical_and_known_offset(real_dataset, tmp_path):
    real = real_videos(real_dataset)
    same = write_generated(tmp_path / "same", real)
    off = write_generated(tmp_path / "off", {k: shifted(v, 3, 4) for k, v in real.items()})
    results = cli.evaluate(real_dataset, [("same", same), ("off", off)], frames=FRAMES,
                           metrics=("objmc",))
    assert results[0].metrics["objmc"] == 0.0
    expected = 5.0 * (FRAMES - 1) / FRAMES        # 5 px in every frame but the first
    assert results[1].metrics["objmc"] == pytest.approx(expected, abs=0.15)
    assert results[1].clips == 3


def test_cli_writes_markdown_and_csv_tables(real_dataset, extractor_files, tmp_path, capsys):
    real = real_videos(real_dataset)
    same = write_generated(tmp_path / "same", real)
    dark = write_generated(tmp_path / "dark", {k: (v * 0.6).astype(np.uint8) for k, v in real.items()})
    md, out_csv = tmp_path / "t.md", tmp_path / "t.csv"
    rc = cli.main([str(real_dataset), "--model", f"Same={same}", "--model", f"Dark={dark}",
                   "--frames", "8", "--inception", str(extractor_files["inception"]),
                   "--i3d", str(extractor_files["i3d"]), "--markdown", str(md), "--csv", str(out_csv)])
    assert rc == 0
    table = md.read_text()
    assert "| Method | FVD ↓ | FID ↓ | ObjMC ↓ | Clips |" in table
    assert table in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [r["method"] for r in rows] == ["Same", "Dark"]
    assert float(rows[0]["fid"]) == pytest.approx(0, abs=1e-4) and float(rows[0]["fvd"]) == pytest.approx(0, abs=1e-4)
    assert float(rows[1]["fid"]) > float(rows[0]["fid"]) and float(rows[1]["fvd"]) > float(rows[0]["fvd"])


def test_cli_errors_are_clear(real_dataset, tmp_path, capsys):
    empty = tmp_path / "gen"
    empty.mkdir()
    assert cli.main([str(real_dataset), "--model", f"X={empty}", "--metrics", "fid"]) == 2
    assert "inception-2015-12-05.pt" in capsys.readouterr().err
    assert cli.main([str(real_dataset), "--model", f"X={empty}", "--metrics", "objmc",
                     "--frames", "8"]) == 2
    assert "no generated clip 'clip0'" in capsys.readouterr().err
    assert cli.main([str(real_dataset), "--model", "X", "--metrics", "objmc"]) == 2
    assert "expected NAME=FOLDER" in capsys.readouterr().err
    assert cli.main([str(real_dataset), "--model", f"X={empty}", "--metrics", "objmc"]) == 2
    assert "--frames 14: real clips" in capsys.readouterr().err
    assert cli.main([str(real_dataset), "--model", "X", "--metrics", "objmc"]) == 2
    assert "expected NAME=FOLDER" in capsys.readouterr().err


def test_swapped_extractor_files_get_an_error_naming_the_file(real_dataset, extractor_files, tmp_path,
                                                              capsys):
    same = write_generated(tmp_path / "same", real_videos(real_dataset))
    i3d, inception = str(extractor_files["i3d"]), str(extractor_files["inception"])
    assert cli.main([str(real_dataset), "--model", f"X={same}", "--metrics", "fid", "--frames", "8",
                     "--inception", i3d]) == 2
    err = capsys.readouterr().err
    assert f"inception: {i3d} failed" in err and "inception-2015-12-05.pt" in err
    assert cli.main([str(real_dataset), "--model", f"X={same}", "--metrics", "fvd", "--frames", "8",
                     "--i3d", inception]) == 2
    err = capsys.readouterr().err
    assert f"i3d: {inception} failed" in err and "i3d_torchscript.pt" in err
