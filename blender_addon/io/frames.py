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



def safe_name(text: str, fallback: str = "shot") -> str:
    """A folder-safe version of a scene or job name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text or "").strip("._")
    return cleaned[:64] or fallback


def frame_filename(index: int) -> str:
    """``####.png`` numbered from 1, the way Blender numbers image sequences."""
    if index < 0:
        raise ValueError(f"frame index: expected >= 0, got {index}")
    return f"{index + 1:04d}.png"


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk every whole PNG ends with


def check_png(data: bytes, width: int | None = None, height: int | None = None) -> tuple[int, int]:
    """Refuse bytes that are not one whole PNG (signature, IHDR first, IEND last, and the
    announced size when given); returns (width, height).

    Constant time on purpose: a full chunk-by-chunk CRC walk (``shared_protocol.images``) is
    pure Python over ~100 IDAT chunks per 1024x576 frame and, run beside Blender's main thread,
    holds the GIL long enough to add milliseconds to the UI timer. The codec has already checked
    the message; this catches truncated, foreign or mislabelled frames."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"frame data: expected PNG bytes, got {type(data).__name__}")
    data = memoryview(data)
    if len(data) < 8 + 25 + 12 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("frame data: expected a complete PNG file: no PNG signature and IHDR header")
    if data[-12:] != PNG_IEND:
        raise ValueError("frame data: expected a complete PNG file: it does not end with IEND (truncated)")
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if (width and w != width) or (height and h != height):
        raise ValueError(f"frame data: PNG is {w}x{h}, the message says {width}x{height}")
    return w, h


class FrameWriter:
    """Frames of one job in ``<root>/<shot>/<job>/####.png``."""

    def __init__(self, root: str | os.PathLike, shot: str, job: str):
        self.folder = Path(root) / safe_name(shot, "shot") / safe_name(job, "job")
        self.written: dict[int, Path] = {}

    def path_for(self, index: int) -> Path:
        return self.folder / frame_filename(index)

    def write(self, index: int, data: bytes, size: tuple[int, int] | None = None) -> Path:
        """Check, write to a temporary file, rename into place; return the path."""
        check_png(data, *(size or (None, None)))
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.path_for(index)
        fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=".png", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())  # on disk before the name: a power cut cannot leave an empty frame
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
    the writes in arrival order. The worker records a frame in ``written`` once its file is in
    place (so ``contiguous_count`` never counts a missing file); ``collect`` reports outcomes.
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

    def submit(self, index: int, data: bytes, size: tuple[int, int] | None = None) -> None:
        check_png(data, *(size or (None, None)))  # cheap; a bad frame is reported at once
        self._pending[index] = self.executor.submit(self.writer.write, index, data, size)

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
