"""Pure-Python checks of image payloads: PNG structure and header, raw buffer sizes.

Enough to reject a wrong or truncated image before a job is queued, without numpy
or an image library (this runs inside Blender's Python too). Decoding pixels is the
server's job (OpenCV).
"""

import struct
import zlib
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type -> channels
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
PNG_BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


class ImageError(ValueError):
    """An image payload is not what it claims to be; the message says what is wrong."""


@dataclass(frozen=True)
class PngInfo:
    """The IHDR fields of a PNG."""

    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int

    @property
    def channels(self) -> int:
        return PNG_CHANNELS[self.color_type]


def read_png_info(data: bytes) -> PngInfo:
    """Walk every chunk (lengths and CRCs), return the IHDR. Raises ImageError on any defect."""
    if len(data) < 8 or data[:8] != PNG_SIGNATURE:
        raise ImageError("not a PNG: the 8-byte PNG signature is missing")
    info = None
    seen_idat = False
    offset = 8
    while True:
        if offset + 12 > len(data):
            raise ImageError(f"PNG is truncated at byte {offset}: no IEND chunk")
        length, chunk_type = struct.unpack(">I4s", data[offset:offset + 8])
        end = offset + 12 + length
        if length > 2**31 - 1 or end > len(data):
            raise ImageError(f"PNG chunk {chunk_type!r} at byte {offset} runs past the end of the data")
        chunk = data[offset + 8:end - 4]
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(chunk, zlib.crc32(chunk_type)) != crc:
            raise ImageError(f"PNG chunk {chunk_type!r} at byte {offset} has a wrong CRC")
        if info is None:
            if chunk_type != b"IHDR" or length != 13:
                raise ImageError("PNG does not start with a 13-byte IHDR chunk")
            info = _parse_ihdr(chunk)
        elif chunk_type == b"IDAT":
            seen_idat = True
        elif chunk_type == b"IEND":
            if end != len(data):
                raise ImageError(f"PNG has {len(data) - end} bytes after IEND")
            break
        offset = end
    if not seen_idat:
        raise ImageError("PNG has no IDAT (pixel data) chunk")
    return info


def _parse_ihdr(chunk: bytes) -> PngInfo:
    width, height, bit_depth, color_type, compression, filter_method, interlace = struct.unpack(">IIBBBBB", chunk)
    if width == 0 or height == 0 or width > 2**31 - 1 or height > 2**31 - 1:
        raise ImageError(f"PNG size {width}x{height} is invalid")
    if color_type not in PNG_CHANNELS or bit_depth not in PNG_BIT_DEPTHS[color_type]:
        raise ImageError(f"PNG colour type {color_type} with bit depth {bit_depth} is invalid")
    if compression != 0 or filter_method != 0 or interlace not in (0, 1):
        raise ImageError("PNG uses an unknown compression, filter or interlace method")
    return PngInfo(width, height, bit_depth, color_type, interlace)


def png_is_blank(data: bytes, info: PngInfo) -> bool:
    """True when every pixel of a non-interlaced PNG is zero. Inflates at most the size the
    IHDR implies (no zip bomb). Works on filtered scanlines: with any PNG filter a row
    decodes to zeros exactly when its filtered bytes after the filter-type byte are zero."""
    if info.interlace != 0:
        raise ImageError("interlaced PNG masks are not supported; write the mask non-interlaced")
    row_bytes = (info.width * info.channels * info.bit_depth + 7) // 8
    expected = info.height * (row_bytes + 1)
    inflater = zlib.decompressobj()
    raw = bytearray()
    offset = 8
    try:
        while offset < len(data):
            length, chunk_type = struct.unpack(">I4s", data[offset:offset + 8])
            if chunk_type == b"IDAT":
                raw += inflater.decompress(data[offset + 8:offset + 8 + length], expected + 1 - len(raw))
                if len(raw) > expected:
                    break
            offset += 12 + length
    except zlib.error as exc:
        raise ImageError(f"PNG pixel data does not inflate: {exc}") from None
    if len(raw) != expected:
        raise ImageError(f"PNG pixel data holds {len(raw)} bytes, its IHDR implies {expected}")
    filter_types = raw[::row_bytes + 1]
    if any(kind > 4 for kind in filter_types):
        raise ImageError("PNG uses an unknown scanline filter type")
    nonzero = len(raw) - raw.count(0)
    return nonzero == len(filter_types) - filter_types.count(0)


def encode_png(data: bytes, width: int, height: int, channels: int, level: int = 6) -> bytes:
    """A PNG of raw 8-bit pixels (row-major, top row first; 1 = gray, 3 = RGB, 4 = RGBA).
    For clients without an image library, e.g. to send a mask as a few kB instead of w*h bytes."""
    color_type = {1: 0, 3: 2, 4: 6}.get(channels)
    if color_type is None:
        raise ImageError(f"expected 1, 3 or 4 channels, got {channels}")
    row = width * channels
    if width < 1 or height < 1 or len(data) != row * height:
        raise ImageError(f"expected {width}x{height}x{channels} = {row * height} bytes, got {len(data)}")
    view = memoryview(data)
    scanlines = b"".join(b"\x00" + view[y * row:(y + 1) * row] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines, level)) + chunk(b"IEND", b"")


def raw_is_blank(data: bytes) -> bool:
    """True when every byte of a raw buffer is zero."""
    return data.count(0) == len(data)


def expected_raw_size(width: int, height: int, channels: int) -> int:
    """Bytes of a raw uint8 buffer, row-major, no padding."""
    return width * height * channels
