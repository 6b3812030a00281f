"""Frame encoding off the device worker's critical path.

PNG encoding of a 1024x576 frame costs 12-40 ms of CPU (NOTES §6). ``cv2.imencode`` releases
the GIL, so a small ``ThreadPoolExecutor`` encodes frames in parallel with the next denoising
step / the next frame instead of stalling the worker. Order is not this module's business: the
service reassembles frames in index order before sending.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np


class FrameFormatError(ValueError):
    """A backend produced something that is not an (H, W, 3) uint8 RGB frame of the job's size."""


def check_frame(rgb: object, width: int, height: int, index: int) -> np.ndarray:
    """Return ``rgb`` as a C-contiguous uint8 (H, W, 3) array, or raise FrameFormatError."""
    if not isinstance(rgb, np.ndarray):
        raise FrameFormatError(f"frame {index}: expected a numpy array, got {type(rgb).__name__}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise FrameFormatError(
            f"frame {index}: expected uint8 (height, width, 3), got {rgb.dtype} {tuple(rgb.shape)}")
    if rgb.shape[:2] != (height, width):
        raise FrameFormatError(
            f"frame {index}: expected {width}x{height}, got {rgb.shape[1]}x{rgb.shape[0]}")
    return np.ascontiguousarray(rgb)


def encode_png(rgb: np.ndarray, compression: int = 1) -> bytes:
    """Lossless 8-bit RGB PNG. Level 1 is ~2x smaller than level 0 for ~2x the time (NOTES §6)."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise FrameFormatError("OpenCV could not encode the frame as PNG")
    return buf.tobytes()


class FrameEncoder:
    """A pool of threads that turn RGB frames into PNG bytes."""

    def __init__(self, threads: int = 0, compression: int = 1) -> None:
        if not 0 <= compression <= 9:
            raise ValueError(f"png compression: expected 0..9, got {compression}")
        self.threads = threads or max(2, min(8, os.cpu_count() or 2))
        self.compression = compression
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="trackgo-encode")

    def submit(self, rgb: np.ndarray) -> Future:
        """Future of the PNG bytes of ``rgb`` (the array must not be modified afterwards)."""
        return self._pool.submit(encode_png, rgb, self.compression)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
