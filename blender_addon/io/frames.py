"""Writes streamed frames to disk atomically: a reader never sees a half-written PNG.

Each frame goes to a temporary name in the same folder and is then renamed over its final
name with ``os.replace`` (atomic on POSIX and Windows), so a crash, a lost server or a full
disk leaves either a whole frame or none.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from ..protocol import sp


def safe_name(text: str, fallback: str = "shot") -> str:
    """A folder-safe version of a scene or job name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text or "").strip("._")
    return cleaned[:64] or fallback


def frame_filename(index: int) -> str:
    """``####.png`` numbered from 1, the way Blender numbers image sequences."""
    if index < 0:
        raise ValueError(f"frame index: expected >= 0, got {index}")
    return f"{index + 1:04d}.png"


def check_png(data: bytes):
    """Refuse bytes that are not one complete PNG file (every chunk and CRC checked by the
    protocol's own reader); returns its header."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"frame data: expected PNG bytes, got {type(data).__name__}")
    try:
        return sp.images.read_png_info(bytes(data))
    except sp.images.ImageError as exc:
        raise ValueError(f"frame data: expected a complete PNG file: {exc}") from None


class FrameWriter:
    """Frames of one job in ``<root>/<shot>/<job>/####.png``."""

    def __init__(self, root: str | os.PathLike, shot: str, job: str):
        self.folder = Path(root) / safe_name(shot, "shot") / safe_name(job, "job")
        self.written: dict[int, Path] = {}

    def path_for(self, index: int) -> Path:
        return self.folder / frame_filename(index)

    def write(self, index: int, data: bytes) -> Path:
        """Check, write to a temporary file, fsync-free rename into place; return the path."""
        check_png(data)
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.path_for(index)
        fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=".png", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self.written[index] = final
        return final

    def contiguous_count(self) -> int:
        """How many frames from index 0 on are on disk without a gap (what a strip may show)."""
        n = 0
        while n in self.written:
            n += 1
        return n
