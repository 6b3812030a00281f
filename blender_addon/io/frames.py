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
        self.written[index] = final  # (from the worker thread: read only after its future is done)
        return final

    def contiguous_count(self) -> int:
        """How many frames from index 0 on are on disk without a gap (what a strip may show)."""
        n = 0
        while n in self.written:
            n += 1
        return n


class BackgroundWriter:
    """A :class:`FrameWriter` whose disk work runs on one worker thread.

    Blender's timer hands over the bytes (``submit``) and later collects what landed
    (``collect``, on the main thread), so a slow disk never stalls the UI. One thread keeps
    the writes in arrival order; ``written`` is only updated by ``collect``.
    """

    def __init__(self, writer: FrameWriter, executor):
        self.writer = writer
        self.executor = executor
        self._pending: dict[int, object] = {}

    @property
    def folder(self) -> Path:
        return self.writer.folder

    def path_for(self, index: int) -> Path:
        return self.writer.path_for(index)

    def submit(self, index: int, data: bytes) -> None:
        self._pending[index] = self.executor.submit(self.writer.write, index, data)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def collect(self) -> list[tuple[int, Exception | None]]:
        """Finished writes since the last call: (index, None) or (index, the error)."""
        done = []
        for index, fut in list(self._pending.items()):
            if fut.done():
                del self._pending[index]
                done.append((index, fut.exception()))
        return sorted(done, key=lambda item: item[0])

    def contiguous_count(self) -> int:
        return self.writer.contiguous_count()

    def wait(self, timeout: float = 10.0) -> None:
        """Block until pending writes end (shutdown only; never from the UI timer)."""
        import concurrent.futures
        concurrent.futures.wait(list(self._pending.values()), timeout=timeout)
