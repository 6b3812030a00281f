"""Reads a big reference image's pixels in a separate Blender process, so Blender's main thread
never makes the one long copy ``Image.pixels.foreach_get`` is at 4096² (67 M floats, ~100 ms).

Why a process: every Blender image call that could do it elsewhere holds Python's lock for its
whole length (``imbuf.load`` and ``ImBuf.resize`` in a worker thread stopped the main thread's
Python for 1.3–2.6 s in a measurement), and the add-on's Python has no decoder of its own. The
child is Blender itself (``bpy.app.binary_path --background``; with the ``bpy`` module, its
Python importing ``bpy``): it loads the file with the image's colour space and alpha mode, reads
``Image.pixels`` as the add-on would, and writes them raw — bytes for an 8-bit image (exactly
the values ``Image.pixels`` gives, times 255), float32 for a float one. The worker thread waits
for it (without Python's lock) and maps the file. The same pixels, so the job is the same.

The last result is kept (keyed by the file's path, size and time, or the packed bytes' digest),
so Preview Points then Generate read a photo once.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

TIMEOUT_S = 180.0

CHILD = r'''
import json, os, sys
import numpy as np
import bpy
spec = json.loads(sys.argv[sys.argv.index("--") + 1])
img = bpy.data.images.load(spec["path"], check_existing=False)
img.colorspace_settings.name = spec["colorspace"]
img.alpha_mode = spec["alpha_mode"]
w, h = img.size
if [w, h] != spec["size"] or bool(img.is_float) != spec["is_float"]:
    sys.exit("decoded %dx%d float=%s, expected %r float=%s" % (w, h, img.is_float, spec["size"], spec["is_float"]))
buf = np.empty(w * h * 4, dtype=np.float32)
img.pixels.foreach_get(buf)
out = buf if img.is_float else np.rint(buf * 255.0).astype(np.uint8)
with open(spec["out"] + ".part", "wb") as f:
    out.tofile(f)
os.replace(spec["out"] + ".part", spec["out"])
'''


class DecodeError(RuntimeError):
    """The separate process could not read the image (the caller reads it in Blender instead)."""


@dataclass(frozen=True)
class FileReference:
    """What the separate process needs, read on the main thread (plain values)."""
    path: str               # the image file ("" when packed)
    width: int
    height: int
    is_float: bool
    colorspace: str
    alpha_mode: str
    command: tuple          # Blender's command line up to the Python code (see ``child_args``)
    packed: bytes | None = None   # a packed image's file bytes (written to a temporary file)
    suffix: str = ""        # the file's extension, for the temporary copy of packed bytes


def child_args(command, code: str, spec: dict) -> list[str]:
    """``command`` ends with the option that takes Python code (``-c`` / ``--python-expr``)."""
    return [*command, code, "--", json.dumps(spec)]


_lock = threading.Lock()
_last: tuple | None = None   # (key, pixels)
_running: set = set()        # the processes reading now (stopped with the add-on)


def _key(ref: FileReference) -> tuple:
    if ref.packed is not None:
        ident = ("packed", hashlib.sha1(ref.packed).hexdigest())
    else:
        st = os.stat(ref.path)
        ident = (os.path.realpath(ref.path), st.st_size, st.st_mtime_ns)
    return ident + (ref.width, ref.height, ref.is_float, ref.colorspace, ref.alpha_mode)


def read(ref: FileReference) -> np.ndarray:
    """The image's pixels, flat RGBA bottom row first, as ``Image.pixels`` orders them: uint8
    (value × 255) for an 8-bit image, float32 for a float one. Runs the separate process (in the
    calling worker thread); raises DecodeError saying why when it cannot."""
    global _last
    key = _key(ref)
    with _lock:
        if _last is not None and _last[0] == key:
            return _last[1]
    with tempfile.TemporaryDirectory(prefix="trackgo_decode_") as tmp:
        path = ref.path
        if ref.packed is not None:
            path = os.path.join(tmp, "packed" + ref.suffix)
            with open(path, "wb") as f:
                f.write(ref.packed)
        out = os.path.join(tmp, "pixels.raw")
        spec = {"path": path, "out": out, "size": [ref.width, ref.height], "is_float": ref.is_float,
                "colorspace": ref.colorspace, "alpha_mode": ref.alpha_mode}
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP",)}
        try:
            proc = subprocess.Popen(child_args(ref.command, CHILD, spec), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        except OSError as exc:
            raise DecodeError(f"reference decoder: could not run {ref.command[0]!r}: {exc}") from exc
        _running.add(proc)
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.communicate()
            raise DecodeError(f"reference decoder: no result after {TIMEOUT_S:.0f} s") from exc
        finally:
            _running.discard(proc)
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (stderr or stdout or b"").decode("utf-8", "replace").strip().splitlines()[-3:]
            raise DecodeError(f"reference decoder: exit {proc.returncode}: {' | '.join(tail)}")
        dtype = np.float32 if ref.is_float else np.uint8
        pixels = np.fromfile(out, dtype=dtype)
    if pixels.size != ref.width * ref.height * 4:
        raise DecodeError(f"reference decoder: {pixels.size} values, expected {ref.width * ref.height * 4}")
    with _lock:
        _last = (key, pixels)
    return pixels


def forget() -> None:
    """Drop the kept result and stop a read under way (the add-on stops; tests), so quitting
    Blender never waits for one."""
    global _last
    with _lock:
        _last = None
    for proc in list(_running):
        proc.kill()
