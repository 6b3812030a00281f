"""``blender_addon.io.decode`` without Blender: the child it starts is a stand-in (a ``bpy`` module
for the Python-with-bpy branch, a Blender command line for the binary branch, or a child that
answers badly), so what the parent sends, how it reads the answer, what it keeps and how it fails
are checked exactly, in the server environment and in every Blender line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from blender_addon.io import decode
from tests.addon_io import decode_standins

BLENDER_OPTIONS = ("--background", "--factory-startup", "--python-exit-code", "1", "--python-expr")
WAIT_S = 120.0   # bound on waits for a child the test expects to end much sooner


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    where = tmp_path_factory.mktemp("decode_standins")
    (where / "bpy.py").write_text(decode_standins.BPY, encoding="utf-8")
    (where / "blender.py").write_text(decode_standins.BLENDER, encoding="utf-8")
    (where / "child.py").write_text(decode_standins.CHILD, encoding="utf-8")
    return where


@pytest.fixture()
def log(standins, tmp_path, monkeypatch):
    """The stand-ins' log (JSON lines) and an environment that gives the child the stand-in bpy."""
    path = tmp_path / "child.log"
    monkeypatch.setenv("TRACKGO_DECODE_LOG", str(path))
    monkeypatch.setenv("PYTHONPATH", str(standins))
    monkeypatch.setenv("PYTHONSTARTUP", str(tmp_path / "startup.py"))
    decode.forget()
    yield path
    decode.forget()


@pytest.fixture()
def popens(monkeypatch):
    """Every child process ``decode`` started (the Popen objects), in order."""
    made = []
    real = subprocess.Popen

    def spy(*args, **kwargs):
        proc = real(*args, **kwargs)
        if sys._getframe(1).f_globals.get("__name__") == decode.__name__:   # not numpy's own, say
            made.append(proc)
        return proc

    monkeypatch.setattr(decode.subprocess, "Popen", spy)
    return made


def records(log, event=None):
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if event is None or r["event"] == event]


@pytest.fixture()
def echo(standins):
    """A quick stand-in child that answers with the file's values (for what is kept)."""
    return child_command(standins, "echo")


def bpy_module_command():
    return (sys.executable, "-c")


def blender_command(standins):
    return (sys.executable, str(standins / "blender.py"), *BLENDER_OPTIONS)


def child_command(standins, mode):
    return (sys.executable, str(standins / "child.py"), mode)


def image_file(path, w, h, is_float=False, values=None, size=None):
    """A stand-in image file; its pixels are ``values`` or k/255 for k = 0, 1, ... (mod 256)."""
    if values is None:
        values = [(k % 256) / 255.0 for k in range(w * h * 4)]
    data = {"size": list(size or (w, h)), "is_float": is_float,
            "pixels": [float(np.float32(v)) for v in values]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def ref(path, w, h, command, is_float=False, colorspace="sRGB", alpha_mode="STRAIGHT", packed=None, suffix=""):
    return decode.FileReference(str(path), w, h, is_float, colorspace, alpha_mode, tuple(command), packed, suffix)


# --- the command line ---------------------------------------------------------------------------

def test_child_args_put_the_code_then_a_separator_then_the_spec_as_json():
    spec = {"path": "/a b/ç.png", "size": [3, 2], "is_float": False}
    args = decode.child_args(("blender", "--python-expr"), "print(1)", spec)
    assert args == ["blender", "--python-expr", "print(1)", "--", json.dumps(spec)]
    assert json.loads(args[-1]) == spec


# --- reading through the stand-in bpy: both ways Blender is started -----------------------------

@pytest.mark.parametrize("how", ["bpy-module", "blender-binary"])
def test_an_8_bit_image_comes_back_as_its_pixels_times_255(log, standins, tmp_path, popens, how):
    w, h = 3, 2
    path = image_file(tmp_path / "photo.png", w, h)
    command = bpy_module_command() if how == "bpy-module" else blender_command(standins)
    pixels = decode.read(ref(path, w, h, command, colorspace="Filmic sRGB", alpha_mode="PREMUL"))
    assert pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, np.arange(w * h * 4) % 256)
    [load] = records(log, "load")
    assert load["path"] == str(path)
    assert load["check_existing"] is False
    assert load["pythonstartup"] is None          # the user's PYTHONSTARTUP is left out of its environment
    assert load["stdin"] == ""                    # the child reads nothing from Blender's stdin
    spec = json.loads(load["argv"][-1])
    assert load["argv"][-2] == "--"
    out_dir = os.path.dirname(spec.pop("out"))
    assert os.path.basename(out_dir).startswith("trackgo_decode_")
    assert not os.path.exists(out_dir)            # the temporary folder is gone with the read
    assert spec == {"path": str(path), "size": [w, h], "is_float": False,
                    "colorspace": "Filmic sRGB", "alpha_mode": "PREMUL"}
    # the colour space and alpha mode are set before the pixels are read
    assert records(log, "pixels") == [{"event": "pixels", "colorspace": "Filmic sRGB", "alpha_mode": "PREMUL"}]
    [proc] = popens
    assert list(proc.args[:len(command)]) == list(command)
    assert proc.args[len(command)] == decode.CHILD
    if how == "blender-binary":
        assert load["argv"][0] == "/opt/blender/blender" and load["argv"][1:6] == list(BLENDER_OPTIONS)
    assert decode._running == set()


@pytest.mark.parametrize("how", ["bpy-module", "blender-binary"])
def test_a_float_image_comes_back_as_float32_unchanged(log, standins, tmp_path, how):
    w, h = 2, 2
    values = [3.0, -0.5, 0.123456789, 1.0] * (w * h)
    path = image_file(tmp_path / "linear.exr", w, h, is_float=True, values=values)
    command = bpy_module_command() if how == "bpy-module" else blender_command(standins)
    pixels = decode.read(ref(path, w, h, command, is_float=True, colorspace="Linear Rec.709"))
    assert pixels.dtype == np.float32
    np.testing.assert_array_equal(pixels, np.asarray(values, np.float32))


def test_the_child_gets_no_stdin_even_when_the_parent_has_one(log, echo, tmp_path):
    path = image_file(tmp_path / "p.png", 1, 1)
    read_end, write_end = os.pipe()
    os.write(write_end, b"typed into the terminal")
    os.close(write_end)
    saved = os.dup(0)
    try:
        os.dup2(read_end, 0)
        decode.read(ref(path, 1, 1, echo))
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(read_end)
    [child] = records(log, "child")
    assert child["stdin"] == ""


def test_a_packed_image_is_written_to_a_temporary_file_with_its_extension(log, tmp_path):
    w, h = 2, 1
    data = image_file(tmp_path / "source.png", w, h).read_bytes()
    pixels = decode.read(ref("", w, h, bpy_module_command(), packed=data, suffix=".tga"))
    np.testing.assert_array_equal(pixels, np.arange(w * h * 4))
    [load] = records(log, "load")
    assert os.path.basename(load["path"]) == "packed.tga"
    assert load["content"].encode("utf-8") == data
    assert not os.path.exists(load["path"])
    assert os.path.dirname(load["path"]) == os.path.dirname(json.loads(load["argv"][-1])["out"])


@pytest.mark.parametrize("size,is_float,message", [
    ((3, 2), False, "decoded 3x2 float=False, expected [4, 2] float=False"),
    ((4, 2), True, "decoded 4x2 float=True, expected [4, 2] float=False"),
])
def test_an_image_that_decodes_otherwise_than_expected_is_refused(log, tmp_path, size, is_float, message):
    """Blender read the file differently from the image the add-on holds (changed on disk): the
    child refuses and says what it found; the caller reads it in Blender instead."""
    path = image_file(tmp_path / "changed.png", *size, is_float=is_float)
    with pytest.raises(decode.DecodeError) as err:
        decode.read(ref(path, 4, 2, bpy_module_command()))
    assert str(err.value) == f"reference decoder: exit 1: {message}"
    assert records(log, "pixels") == []


# --- what is kept -------------------------------------------------------------------------------

def test_the_same_file_is_read_once_and_the_same_array_returned(log, echo, tmp_path, popens):
    path = image_file(tmp_path / "p.png", 2, 2)
    first = decode.read(ref(path, 2, 2, echo))
    again = decode.read(ref(path, 2, 2, echo))
    assert again is first
    assert len(popens) == 1


def test_the_same_file_through_a_link_is_the_same_file(log, echo, tmp_path, popens):
    path = image_file(tmp_path / "p.png", 2, 2)
    link = tmp_path / "link.png"
    link.symlink_to(path)
    first = decode.read(ref(path, 2, 2, echo))
    assert decode.read(ref(link, 2, 2, echo)) is first
    assert len(popens) == 1


def test_another_file_with_the_same_size_and_time_is_read_again(log, echo, tmp_path, popens):
    a = image_file(tmp_path / "a.png", 2, 2)
    b = image_file(tmp_path / "b.png", 2, 2, values=[1.0] * 16)
    st = os.stat(a)
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
    decode.read(ref(a, 2, 2, echo))
    np.testing.assert_array_equal(decode.read(ref(b, 2, 2, echo)), np.full(16, 255))
    assert len(popens) == 2


@pytest.mark.parametrize("change", ["time", "size"])
def test_a_file_changed_on_disk_is_read_again(log, echo, tmp_path, popens, change):
    """The time alone (1 ns later, same size) or the size alone (same time) tells a changed file."""
    path = image_file(tmp_path / "p.png", 2, 2)
    first = decode.read(ref(path, 2, 2, echo))
    st = os.stat(path)
    if change == "time":
        image_file(path, 2, 2, values=[(15 - k) / 255.0 for k in range(16)])   # same text length
        assert os.stat(path).st_size == st.st_size
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
        expected = 15 - np.arange(16)
    else:
        image_file(path, 2, 2, values=[1.0] * 16)
        assert os.stat(path).st_size != st.st_size
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        expected = np.full(16, 255)
    again = decode.read(ref(path, 2, 2, echo))
    assert again is not first
    np.testing.assert_array_equal(again, expected)
    assert len(popens) == 2


@pytest.mark.parametrize("field,value", [("width", 1), ("height", 1), ("is_float", True)])
def test_another_size_or_depth_of_the_same_file_is_not_the_kept_result(log, echo, tmp_path, popens, field, value):
    path = image_file(tmp_path / "p.png", 2, 2)
    base = dict(path=path, w=2, h=2, command=echo)
    first = decode.read(ref(**base))
    changed = dict(base)
    changed[{"width": "w", "height": "h"}.get(field, field)] = value
    second = decode.read(ref(**changed))
    assert len(popens) == 2
    assert second.dtype == (np.float32 if field == "is_float" else np.uint8)
    assert second.size == (8 if field in ("width", "height") else 16) and first.size == 16


@pytest.mark.parametrize("field,value", [("colorspace", "Non-Color"), ("alpha_mode", "NONE")])
def test_another_colour_space_or_alpha_mode_is_read_again(log, echo, tmp_path, popens, field, value):
    path = image_file(tmp_path / "p.png", 2, 2)
    base = dict(path=path, w=2, h=2, command=echo)
    first = decode.read(ref(**base))
    second = decode.read(ref(**base, **{field: value}))
    assert second is not first and len(popens) == 2
    assert records(log, "child")[-1]["spec"][field] == value
    assert decode.read(ref(**base)) is not first   # only the last result is kept
    assert len(popens) == 3


def test_packed_bytes_are_kept_by_their_content(log, echo, tmp_path, popens):
    one = image_file(tmp_path / "one.png", 2, 1).read_bytes()
    two = image_file(tmp_path / "two.png", 2, 1, values=[1.0] * 8).read_bytes()
    first = decode.read(ref("", 2, 1, echo, packed=one, suffix=".png"))
    assert decode.read(ref("", 2, 1, echo, packed=bytes(one), suffix=".png")) is first
    assert len(popens) == 1
    np.testing.assert_array_equal(decode.read(ref("", 2, 1, echo, packed=two, suffix=".png")),
                                  np.full(8, 255))
    assert len(popens) == 2


def test_packed_bytes_are_not_the_file_at_the_image_path(log, echo, tmp_path, popens):
    """A packed image is keyed (and read) by its bytes even when its path names a file on disk."""
    path = image_file(tmp_path / "p.png", 2, 1)
    packed = image_file(tmp_path / "other.png", 2, 1, values=[1.0] * 8).read_bytes()
    first = decode.read(ref(path, 2, 1, echo))
    from_packed = decode.read(ref(path, 2, 1, echo, packed=packed, suffix=".png"))
    assert from_packed is not first
    np.testing.assert_array_equal(from_packed, np.full(8, 255))
    assert len(popens) == 2


def test_only_the_last_result_is_kept(log, echo, tmp_path, popens):
    a = image_file(tmp_path / "a.png", 1, 1)
    b = image_file(tmp_path / "b.png", 1, 1)
    decode.read(ref(a, 1, 1, echo))
    decode.read(ref(b, 1, 1, echo))
    decode.read(ref(a, 1, 1, echo))
    assert len(popens) == 3


def test_forget_drops_the_kept_result(log, echo, tmp_path, popens):
    path = image_file(tmp_path / "p.png", 1, 1)
    first = decode.read(ref(path, 1, 1, echo))
    decode.forget()
    again = decode.read(ref(path, 1, 1, echo))
    assert again is not first and len(popens) == 2
    np.testing.assert_array_equal(again, first)


def test_a_failed_read_keeps_the_last_good_result(log, echo, standins, tmp_path, popens):
    path = image_file(tmp_path / "p.png", 1, 1)
    first = decode.read(ref(path, 1, 1, echo))
    with pytest.raises(decode.DecodeError):
        decode.read(ref(path, 1, 1, child_command(standins, "short"), colorspace="Non-Color"))
    assert decode.read(ref(path, 1, 1, echo)) is first
    assert len(popens) == 2


def test_a_missing_file_is_an_os_error_before_any_child(log, echo, tmp_path, popens):
    with pytest.raises(FileNotFoundError):
        decode.read(ref(tmp_path / "gone.png", 1, 1, echo))
    assert popens == []


# --- children that fail or answer badly ----------------------------------------------------------

def test_a_command_that_cannot_start_says_which(log, tmp_path):
    path = image_file(tmp_path / "p.png", 1, 1)
    missing = str(tmp_path / "no-blender")
    with pytest.raises(decode.DecodeError) as err:
        decode.read(ref(path, 1, 1, (missing, "--python-expr")))
    assert str(err.value).startswith(f"reference decoder: could not run {missing!r}: ")
    assert isinstance(err.value.__cause__, FileNotFoundError)
    assert str(err.value) == f"reference decoder: could not run {missing!r}: {err.value.__cause__}"
    assert decode._running == set()


@pytest.mark.parametrize("mode,message", [
    ("stderr", "reference decoder: exit 3: line 3 | line 4 | bad \ufffd byte"),   # the last 3 lines of stderr
    ("stdout", "reference decoder: exit 5: first | second"),                      # stdout when stderr is empty
    ("silent", "reference decoder: exit 6: "),
    ("written-then-fail", "reference decoder: exit 4: "),                         # an output, but a failure
    ("no-output", "reference decoder: exit 0: "),                                 # success, but no output
])
def test_a_failing_child_is_a_decode_error_with_its_last_words(log, standins, tmp_path, mode, message):
    path = image_file(tmp_path / "p.png", 2, 2)
    with pytest.raises(decode.DecodeError) as err:
        decode.read(ref(path, 2, 2, child_command(standins, mode)))
    assert str(err.value) == message
    [child] = records(log, "child")
    assert child["sep"] == "--"
    assert decode._running == set()


@pytest.mark.parametrize("mode,count", [("short", 15), ("long", 17)])
def test_an_output_of_the_wrong_length_is_refused(log, standins, tmp_path, popens, mode, count):
    path = image_file(tmp_path / "p.png", 2, 2)
    with pytest.raises(decode.DecodeError) as err:
        decode.read(ref(path, 2, 2, child_command(standins, mode)))
    assert str(err.value) == f"reference decoder: {count} values, expected 16"
    # nothing was kept: the next read runs a child again
    with pytest.raises(decode.DecodeError):
        decode.read(ref(path, 2, 2, child_command(standins, mode)))
    assert len(popens) == 2


def test_a_child_that_never_answers_is_killed_after_the_timeout(log, standins, tmp_path, popens, monkeypatch):
    monkeypatch.setattr(decode, "TIMEOUT_S", 1.0)
    path = image_file(tmp_path / "p.png", 1, 1)
    with pytest.raises(decode.DecodeError) as err:
        decode.read(ref(path, 1, 1, child_command(standins, "hang")))
    assert str(err.value) == "reference decoder: no result after 1 s"
    assert isinstance(err.value.__cause__, subprocess.TimeoutExpired)
    [proc] = popens
    assert proc.returncode == -9          # killed, and waited for (no zombie left)
    assert decode._running == set()


class _WatchedSet(set):
    """``decode._running`` that tells when a child is added."""

    def __init__(self):
        super().__init__()
        self.added = threading.Event()

    def add(self, item):
        super().add(item)
        self.added.set()


def test_forget_stops_a_read_under_way(log, standins, tmp_path, monkeypatch):
    running = _WatchedSet()
    monkeypatch.setattr(decode, "_running", running)
    monkeypatch.setattr(decode, "TIMEOUT_S", 3 * WAIT_S)
    path = image_file(tmp_path / "p.png", 1, 1)
    failed = []

    def reader():
        try:
            decode.read(ref(path, 1, 1, child_command(standins, "hang")))
        except decode.DecodeError as exc:
            failed.append(str(exc))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert running.added.wait(WAIT_S)
    decode.forget()
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert failed == ["reference decoder: exit -9: "]
    assert running == set()
