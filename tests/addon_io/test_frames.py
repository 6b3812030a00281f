"""Frame files (``blender_addon.io.frames``): names, the PNG check's exact limits, cleanup after a
failed write, and the background writer's bookkeeping."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from blender_addon.io import frames
from blender_addon.io.frames import BackgroundWriter, FrameWriter, check_png, frame_filename, safe_name
from tests.addon_io.test_frames_launcher import tiny_png


def test_safe_names_keep_letters_digits_dot_dash_underscore():
    assert safe_name("My Shot!") == "My_Shot"
    assert safe_name("a.b-c_d") == "a.b-c_d"
    assert safe_name("..hidden..") == "hidden"
    assert safe_name("__x__") == "x"
    assert safe_name("été 2") == "t_2"
    assert safe_name("a  /\\ b") == "a_b"
    assert safe_name("x" * 100) == "x" * 64
    assert safe_name("XboxX") == "XboxX"
    assert safe_name("!!!") == "shot" and safe_name(None) == "shot" and safe_name("", "job") == "job"


def test_frame_names_count_from_one_with_four_digits():
    assert frame_filename(0) == "0001.png"
    assert frame_filename(9998) == "9999.png" and frame_filename(9999) == "10000.png"
    with pytest.raises(ValueError, match=r"^frame index: expected >= 0, got -1$"):
        frame_filename(-1)


def test_check_png_reads_the_size_and_checks_it_when_given():
    png = tiny_png(7, 3)
    assert check_png(png) == (7, 3)
    assert check_png(bytearray(png)) == (7, 3) and check_png(memoryview(png)) == (7, 3)
    assert check_png(png, 7, 3) == (7, 3) and check_png(png, 7) == (7, 3) and check_png(png, None, 3) == (7, 3)
    with pytest.raises(ValueError, match=r"^frame data: PNG is 7x3, the message says 8x3$"):
        check_png(png, 8, 3)
    with pytest.raises(ValueError, match=r"^frame data: PNG is 7x3, the message says 7x4$"):
        check_png(png, 7, 4)
    with pytest.raises(ValueError, match=r"^frame data: PNG is 7x3, the message says Nonex4$"):
        check_png(png, None, 4)


def test_check_png_refuses_what_is_not_one_whole_png():
    png = tiny_png()
    with pytest.raises(ValueError, match=r"^frame data: expected PNG bytes, got str$"):
        check_png("text")
    with pytest.raises(ValueError, match=r"^frame data: expected PNG bytes, got NoneType$"):
        check_png(None)
    sig = r"^frame data: expected a complete PNG file: no PNG signature and IHDR header$"
    with pytest.raises(ValueError, match=sig):
        check_png(b"\x00" + png[1:])
    with pytest.raises(ValueError, match=sig):
        check_png(png[:12] + b"IHDx" + png[16:])
    smallest = frames.PNG_SIGNATURE + png[8:33] + frames.PNG_IEND   # 45 bytes: signature, IHDR, IEND
    assert len(smallest) == 45 and check_png(smallest) == (4, 2)
    with pytest.raises(ValueError, match=sig):
        check_png(smallest[:8] + smallest[9:])                       # 44 bytes cannot be whole
    short_ihdr = smallest[:28] + smallest[29:]                       # signature, IHDR, IEND: but 44 bytes
    assert short_ihdr[:8] == frames.PNG_SIGNATURE and short_ihdr[12:16] == b"IHDR" and len(short_ihdr) == 44
    with pytest.raises(ValueError, match=sig):
        check_png(short_ihdr)
    end = r"^frame data: expected a complete PNG file: it does not end with IEND \(truncated\)$"
    with pytest.raises(ValueError, match=end):
        check_png(png[:-1])
    with pytest.raises(ValueError, match=end):
        check_png(png + b"\x00")
    with pytest.raises(ValueError, match=end):
        check_png(png[:-12] + b"\x00\x00\x00\x00IEND\xaeB`\x83")


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    w = FrameWriter(tmp_path, "s", "j")

    def broken(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(frames.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        w.write(3, tiny_png())
    assert os.listdir(w.folder) == [] and w.written == {} and w.contiguous_count() == 0


def test_a_failed_cleanup_still_reports_the_first_error(tmp_path, monkeypatch):
    w = FrameWriter(tmp_path, "s", "j")
    monkeypatch.setattr(frames.os, "replace", lambda a, b: (_ for _ in ()).throw(OSError("disk full")))
    monkeypatch.setattr(frames.os, "unlink", lambda p: (_ for _ in ()).throw(OSError("busy")))
    with pytest.raises(OSError, match="disk full"):
        w.write(0, tiny_png())


def test_temporary_files_are_hidden_pngs_in_the_frames_folder(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace
    monkeypatch.setattr(frames.os, "replace", lambda a, b: (seen.append((a, b)), real_replace(a, b))[1])
    w = FrameWriter(tmp_path / "deep" / "er", "Shot 1", "job:7")
    path = w.write(4, tiny_png())
    assert path == tmp_path / "deep" / "er" / "Shot_1" / "job_7" / "0005.png" == w.path_for(4)
    (tmp, final), = seen
    assert os.path.dirname(tmp) == str(w.folder) and os.path.basename(tmp).startswith(".part-")
    assert tmp.endswith(".png") and final == path
    assert w.written == {4: path}
    assert FrameWriter(tmp_path, "", "").folder == tmp_path / "shot" / "job"


def test_contiguous_count_stops_at_the_first_gap(tmp_path):
    w = FrameWriter(tmp_path, "s", "j")
    assert w.contiguous_count() == 0
    w.write(1, tiny_png())
    assert w.contiguous_count() == 0
    w.write(0, tiny_png())
    w.write(3, tiny_png())
    assert w.contiguous_count() == 2


def test_background_writer_reports_failures_and_its_folder(tmp_path):
    inner = FrameWriter(tmp_path, "s", "j")
    gate = threading.Event()
    real = inner.write

    def write(index, data, size=None):
        gate.wait(10)
        if index == 1:
            raise OSError("disk full")
        return real(index, data, size)
    inner.write = write
    with ThreadPoolExecutor(1) as pool:
        bw = BackgroundWriter(inner, pool)
        assert bw.folder == inner.folder and bw.path_for(2) == inner.folder / "0003.png"
        assert not bw.busy and bw.collect() == []
        for i in (2, 0, 1):
            bw.submit(i, tiny_png(), (4, 2))
        assert bw.busy and bw.collect() == []          # nothing finished while the gate is shut
        with pytest.raises(ValueError, match=r"PNG is 4x2, the message says 5x2"):
            bw.submit(3, tiny_png(), (5, 2))
        gate.set()
        bw.wait()
        done = bw.collect()
    assert [i for i, _ in done] == [0, 1, 2]
    assert done[0][1] is None and done[2][1] is None and isinstance(done[1][1], OSError)
    assert not bw.busy and bw.collect() == []
    assert bw.contiguous_count() == 1


def test_background_writer_wait_gives_up_after_its_timeout(tmp_path):
    inner = FrameWriter(tmp_path, "s", "j")
    gate = threading.Event()
    inner.write = lambda index, data, size=None: gate.wait(30)
    with ThreadPoolExecutor(1) as pool:
        bw = BackgroundWriter(inner, pool)
        bw.submit(0, tiny_png())
        bw.wait(timeout=0.05)          # returns although the write is still blocked
        assert bw.busy and bw.collect() == []
        gate.set()
