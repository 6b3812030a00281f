"""Pure-Python PNG checks: chunk walk, IHDR, truncation, CRC, bounded inflate."""

import struct
import tracemalloc
import zlib

import pytest

from shared_protocol.images import ImageError, png_is_blank, raw_is_blank, read_png_info

from .conftest import PNG_SIGNATURE, png_chunk, rect_mask_png, solid_png


def test_header_fields_are_read():
    info = read_png_info(solid_png(37, 5, color_type=6))
    assert (info.width, info.height, info.bit_depth, info.color_type, info.channels) == (37, 5, 8, 6, 4)


def ihdr(width=4, height=4, depth=8, color=0, interlace=0):
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace))


IDAT = png_chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00" * 4))
IEND = png_chunk(b"IEND", b"")


@pytest.mark.parametrize("data, words", [
    (b"", "signature"),
    (b"GIF89a" + bytes(40), "signature"),
    (PNG_SIGNATURE, "truncated"),
    (PNG_SIGNATURE + ihdr() + IDAT, "truncated"),
    (PNG_SIGNATURE + ihdr() + IDAT + IEND + b"junk", "after IEND"),
    (PNG_SIGNATURE + ihdr() + IEND, "no IDAT"),
    (PNG_SIGNATURE + IDAT + ihdr() + IEND, "IHDR"),
    (PNG_SIGNATURE + ihdr(width=0) + IDAT + IEND, "size"),
    (PNG_SIGNATURE + ihdr(color=5) + IDAT + IEND, "colour type"),
    (PNG_SIGNATURE + ihdr(color=2, depth=4) + IDAT + IEND, "bit depth"),
    (PNG_SIGNATURE + ihdr(interlace=2) + IDAT + IEND, "interlace"),
    (PNG_SIGNATURE + ihdr()[:-1] + b"\x00" + IDAT + IEND, "CRC"),
    (PNG_SIGNATURE + ihdr() + struct.pack(">I", 2**31) + b"IDAT" + bytes(8) + IEND, "past the end"),
])
def test_defective_pngs_say_what_is_wrong(data, words):
    with pytest.raises(ImageError, match=words):
        read_png_info(data)


def test_blank_check_reads_pixels_not_filter_bytes():
    for filter_type in (0, 1, 2):
        data = rect_mask_png(16, 8, (3, 2, 4, 3), filter_type)
        assert not png_is_blank(data, read_png_info(data))
    empty = rect_mask_png(16, 8, (0, 0, 0, 0))
    assert png_is_blank(empty, read_png_info(empty))
    # filter type bytes alone (here "sub") must not count as pixels
    rows = b"".join(b"\x01" + bytes(16) for _ in range(8))
    data = PNG_SIGNATURE + ihdr(16, 8) + png_chunk(b"IDAT", zlib.compress(rows)) + IEND
    assert png_is_blank(data, read_png_info(data))


def test_inflate_is_bounded_by_the_declared_size():
    bomb = zlib.compress(bytes(20_000_000), 9)      # 20 MB of zeros in ~20 kB
    data = PNG_SIGNATURE + ihdr(16, 16) + png_chunk(b"IDAT", bomb) + IEND
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match="implies"):
            png_is_blank(data, read_png_info(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"inflated {peak} bytes of a 20 MB bomb for a 16x16 image"


def test_short_or_corrupt_pixel_data_is_an_image_error():
    short = PNG_SIGNATURE + ihdr(16, 16) + png_chunk(b"IDAT", zlib.compress(bytes(10))) + IEND
    with pytest.raises(ImageError, match="implies"):
        png_is_blank(short, read_png_info(short))
    corrupt = PNG_SIGNATURE + ihdr(16, 16) + png_chunk(b"IDAT", b"\xff" * 40) + IEND
    with pytest.raises(ImageError, match="inflate"):
        png_is_blank(corrupt, read_png_info(corrupt))
    bad_filter = PNG_SIGNATURE + ihdr(4, 1) + png_chunk(b"IDAT", zlib.compress(b"\x07" + bytes(4))) + IEND
    with pytest.raises(ImageError, match="filter"):
        png_is_blank(bad_filter, read_png_info(bad_filter))


def test_raw_blank():
    assert raw_is_blank(bytes(100)) and not raw_is_blank(bytes(99) + b"\x01")


def test_encode_png_round_trips_through_the_reader():
    from shared_protocol.images import encode_png

    width, height = 5, 3
    pixels = bytes(range(width * height * 3))
    data = encode_png(pixels, width, height, 3)
    info = read_png_info(data)
    assert (info.width, info.height, info.color_type, info.bit_depth) == (5, 3, 2, 8)
    scanlines = zlib.decompress(data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8])
    assert scanlines == b"".join(b"\x00" + pixels[y * 15:(y + 1) * 15] for y in range(height))
    mask = encode_png(bytes(width * height), width, height, 1)
    assert png_is_blank(mask, read_png_info(mask))
    with pytest.raises(ImageError, match="bytes"):
        encode_png(pixels[:-1], width, height, 3)
    with pytest.raises(ImageError, match="channels"):
        encode_png(pixels, width, height, 2)
