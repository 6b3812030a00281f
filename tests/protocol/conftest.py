"""Fixtures for the protocol tests: tiny PNGs written with zlib + struct, and a valid job."""

import struct
import zlib

import pytest

import shared_protocol as sp

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(rows: list[bytes], width: int, height: int, color_type: int = 0, bit_depth: int = 8,
              filter_type: int = 0) -> bytes:
    """A PNG from unfiltered scanlines `rows`, each filtered with `filter_type` (0 none, 1 sub, 2 up)."""
    bpp = max(1, CHANNELS[color_type] * bit_depth // 8)
    filtered = b""
    previous = bytes(len(rows[0]))
    for row in rows:
        if filter_type == 0:
            line = row
        elif filter_type == 1:
            line = bytes((row[i] - (row[i - bpp] if i >= bpp else 0)) % 256 for i in range(len(row)))
        elif filter_type == 2:
            line = bytes((row[i] - previous[i]) % 256 for i in range(len(row)))
        else:
            raise ValueError(filter_type)
        filtered += bytes([filter_type]) + line
        previous = row
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(filtered)) + png_chunk(b"IEND", b"")


def solid_png(width: int, height: int, color_type: int = 2, value: int = 128) -> bytes:
    row = bytes([value]) * (width * CHANNELS[color_type])
    return write_png([row] * height, width, height, color_type)


def rect_mask_rows(width: int, height: int, box: tuple[int, int, int, int]) -> list[bytes]:
    """8-bit mask rows, 255 inside the box (x0, y0, x1, y1), 0 elsewhere."""
    x0, y0, x1, y1 = box
    return [bytes(255 if x0 <= x < x1 and y0 <= y < y1 else 0 for x in range(width)) for y in range(height)]


def rect_mask_png(width: int, height: int, box, filter_type: int = 0) -> bytes:
    return write_png(rect_mask_rows(width, height, box), width, height, 0, 8, filter_type)


def rect_mask_raw(width: int, height: int, box) -> bytes:
    return b"".join(rect_mask_rows(width, height, box))


W, H = 64, 48


@pytest.fixture
def reference_png() -> bytes:
    return solid_png(W, H)


def make_valid_job(reference_png: bytes | None = None):
    """(body, payloads): a PNG reference, one PNG-mask track, one raw-mask track, one polygon track."""
    reference_png = reference_png or solid_png(W, H)
    tracks = [
        sp.track(sp.png_image(rect_mask_png(W, H, (4, 4, 20, 20))), [[10, 10], [30, 12], [40, 30]], "ease-in-out",
                 name="ball"),
        sp.track(sp.raw_image(rect_mask_raw(W, H, (30, 20, 50, 40)), W, H, 1), [[40, 30], [20, 30]]),
        sp.track([[[0, 40], [20, 40], [10, 47]]], [[10, 44], [10, 20]], "ease-out"),
    ]
    params = {"frames": 14, "width": 256, "height": 128, "seed": 7, "num_inference_steps": 4}
    return sp.job_body(sp.png_image(reference_png), tracks, params)


@pytest.fixture
def valid_job(reference_png):
    return make_valid_job(reference_png)
