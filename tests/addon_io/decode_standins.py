"""Stand-ins for the Blender that ``blender_addon.io.decode`` starts, so its side of the exchange
(what it sends, how it reads the answer) is tested without Blender, in every environment.

- ``BPY``: a ``bpy`` module for the child's Python (put first on its PYTHONPATH). An "image file"
  is JSON ``{"size": [w, h], "is_float": b, "pixels": [...]}``; each call is logged, as JSON lines,
  to the file named by ``TRACKGO_DECODE_LOG`` (the child inherits the parent's environment).
- ``BLENDER``: Blender's command line (``--background --factory-startup --python-exit-code 1
  --python-expr CODE -- ...``): checks those options, sets ``sys.argv`` as Blender does (the whole
  command line) and runs CODE, exiting 1 on an error.
- ``CHILD``: a child that ignores the code and answers as the test asks (first argument): the
  file's values quickly (no numpy to import: the tests of what is kept start many children), a
  short or long output, no output, failures on stderr or stdout, a hang.
"""
from __future__ import annotations

BPY = r'''
"""Stand-in bpy (tests/addon_io/decode_standins.py)."""
import json
import os
import sys


def _log(**record):
    with open(os.environ["TRACKGO_DECODE_LOG"], "a") as f:
        f.write(json.dumps(record) + "\n")


class _Settings:
    name = "sRGB"


class _Pixels:
    def __init__(self, image):
        self._image = image

    def foreach_get(self, buf):
        image = self._image
        _log(event="pixels", colorspace=image.colorspace_settings.name, alpha_mode=image.alpha_mode)
        buf[:] = image._values


class _Image:
    def __init__(self, data):
        self.size = tuple(data["size"])
        self.is_float = data["is_float"]
        self._values = data["pixels"]
        self.colorspace_settings = _Settings()
        self.alpha_mode = "STRAIGHT"
        self.pixels = _Pixels(self)


class _Images:
    def load(self, path, check_existing=True):
        with open(path, "rb") as f:
            raw = f.read()
        _log(event="load", path=path, check_existing=check_existing, content=raw.decode("utf-8"),
             argv=sys.argv, pythonstartup=os.environ.get("PYTHONSTARTUP"), stdin=sys.stdin.read())
        return _Image(json.loads(raw))


class _Data:
    images = _Images()


data = _Data()
'''

BLENDER = r'''
"""Stand-in Blender binary (tests/addon_io/decode_standins.py)."""
import sys
import traceback

args = sys.argv[1:]
expected = ["--background", "--factory-startup", "--python-exit-code", "1", "--python-expr"]
if args[:5] != expected:
    sys.exit("stand-in blender: options %r, expected %r" % (args[:5], expected))
code = args[5]
sys.argv = ["/opt/blender/blender", *args]     # Blender's Python sees its whole command line
try:
    exec(compile(code, "<python-expr>", "exec"), {"__name__": "__main__"})
except SystemExit:
    raise
except BaseException:
    traceback.print_exc()
    sys.exit(int(args[3]))
'''

CHILD = r'''
"""Stand-in child that ignores the code (tests/addon_io/decode_standins.py)."""
import array
import json
import os
import sys
import time

mode, code, sep, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
with open(os.environ["TRACKGO_DECODE_LOG"], "a") as f:
    f.write(json.dumps({"event": "child", "mode": mode, "sep": sep, "spec": spec,
                        "stdin": sys.stdin.read() if mode == "echo" else None}) + "\n")
count = spec["size"][0] * spec["size"][1] * 4
if mode == "echo":     # a quick good answer (no numpy): the file's values, as many as asked for
    with open(spec["path"], "rb") as f:
        values = json.loads(f.read())["pixels"]
    values = [values[k % len(values)] for k in range(count)]
    if spec["is_float"]:
        raw = array.array("f", values).tobytes()
    else:
        raw = bytes(int(round(v * 255.0)) for v in values)
    with open(spec["out"], "wb") as f:
        f.write(raw)
    sys.exit(0)
if mode in ("short", "long", "written-then-fail"):
    with open(spec["out"], "wb") as f:
        f.write(bytes(count + (-1 if mode == "short" else 1 if mode == "long" else 0)))
    sys.exit(4 if mode == "written-then-fail" else 0)
if mode == "no-output":
    sys.exit(0)
if mode == "stderr":
    sys.stdout.write("out one\nout two\n")
    sys.stdout.flush()
    os.write(2, b"line 1\nline 2\nline 3\nline 4\nbad \xfe byte\n\n\n")
    sys.exit(3)
if mode == "stdout":
    sys.stdout.write("first\nsecond\n")
    sys.exit(5)
if mode == "silent":
    sys.exit(6)
if mode == "hang":     # a Blender that never answers; killed by the parent long before this ends
    time.sleep(120)
    sys.exit(0)
sys.exit("stand-in child: unknown mode %r" % mode)
'''
