"""PNG and raw checks at their exact edges, and the words of each refusal (images.py).

Blender shows these messages when a mask or reference is refused, so they are behaviour: each
names the chunk, byte offset or size at fault.
"""

import struct
import zlib

import pytest

from shared_protocol.images import (PNG_BIT_DEPTHS, ImageError, encode_png, expected_raw_size, png_is_blank,
                                    raw_is_blank, read_png_info)

from .conftest import PNG_SIGNATURE, png_chunk


def ihdr(width=4, height=4, depth=8, color=0, compression=0, filter_method=0, interlace=0, length=None):
    data = struct.pack(">IIBBBBB", width, height, depth, color, compression, filter_method, interlace)
    if length is not None:
        data = data.ljust(length, b"\x00")[:length]
    return png_chunk(b"IHDR", data)


def idat(raw: bytes) -> bytes:
    return png_chunk(b"IDAT", zlib.compress(raw))


IEND = png_chunk(b"IEND", b"")
ROWS_4x4 = b"\x00" + bytes(4)


def png(*chunks) -> bytes:
    return PNG_SIGNATURE + b"".join(chunks)


def refusal(data) -> str:
    with pytest.raises(ImageError) as info:
        read_png_info(data)
    return str(info.value)


def test_the_smallest_whole_png_is_read():
    info = read_png_info(png(ihdr(1, 1), idat(b"\x00\x00"), IEND))
    assert (info.width, info.height, info.bit_depth, info.color_type, info.interlace, info.channels) == \
        (1, 1, 8, 0, 0, 1)


@pytest.mark.parametrize("data, message", [
    (PNG_SIGNATURE[:7], "not a PNG: the 8-byte PNG signature is missing"),
    (b"\x88" + PNG_SIGNATURE[1:] + ihdr() + IEND, "not a PNG: the 8-byte PNG signature is missing"),
    (PNG_SIGNATURE, "PNG is truncated at byte 8: no IEND chunk"),
    (PNG_SIGNATURE + ihdr() + idat(ROWS_4x4 * 4) + IEND[:11], "PNG is truncated at byte {iend}: no IEND chunk"),
    (PNG_SIGNATURE + IEND, "PNG does not start with a 13-byte IHDR chunk"),     # a whole 12-byte chunk is read
    (PNG_SIGNATURE + ihdr(length=14) + IEND, "PNG does not start with a 13-byte IHDR chunk"),
    (PNG_SIGNATURE + ihdr(length=12) + IEND, "PNG does not start with a 13-byte IHDR chunk"),
    (PNG_SIGNATURE + ihdr() + IEND, "PNG has no IDAT (pixel data) chunk"),
    (PNG_SIGNATURE + ihdr() + idat(ROWS_4x4 * 4) + IEND + b"\x00", "PNG has 1 bytes after IEND"),
    (PNG_SIGNATURE + ihdr() + struct.pack(">I", 5) + b"IDAT" + bytes(8),
     "PNG chunk b'IDAT' at byte 33 runs past the end of the data"),
    (PNG_SIGNATURE + ihdr()[:-1] + b"\x00" + IEND, "PNG chunk b'IHDR' at byte 8 has a wrong CRC"),
])
def test_defects_are_named_with_their_place(data, message):
    iend = 8 + len(ihdr()) + len(idat(ROWS_4x4 * 4))
    assert refusal(data) == message.format(iend=iend)


def test_a_chunk_ending_exactly_at_the_end_of_the_data_is_read():
    data = png(ihdr(), idat(ROWS_4x4 * 4), IEND)
    assert read_png_info(data).width == 4
    one_past = data[:-12] + struct.pack(">I", 1) + data[-8:]      # IEND claiming one byte it does not carry
    assert refusal(one_past) == f"PNG chunk b'IEND' at byte {len(data) - 12} runs past the end of the data"


def test_the_crc_covers_the_chunk_type_too():
    good = ihdr()
    wrong_type = good[:4] + b"IHDr" + good[8:]                  # same data and CRC, other type
    assert "wrong CRC" in refusal(PNG_SIGNATURE + wrong_type + idat(ROWS_4x4 * 4) + IEND)


def test_ancillary_chunks_and_split_pixel_data_are_walked_over():
    rows = b"".join(b"\x00" + bytes([0, 0, 0, 9 * y]) for y in range(4))
    compressed = zlib.compress(rows)
    data = png(ihdr(), png_chunk(b"tEXt", b"Software\x00test"), png_chunk(b"IDAT", compressed[:5]),
               png_chunk(b"tIME", bytes(7)), png_chunk(b"IDAT", compressed[5:]), IEND)
    info = read_png_info(data)
    assert info.width == 4 and not png_is_blank(data, info)
    assert png_is_blank(png(ihdr(), png_chunk(b"tEXt", b"a\x00b"), idat(ROWS_4x4 * 4), IEND),
                        read_png_info(png(ihdr(), idat(ROWS_4x4 * 4), IEND)))


@pytest.mark.parametrize("width, height, valid", [
    (2**31 - 1, 1, True), (1, 2**31 - 1, True), (2**31, 1, False), (1, 2**31, False), (0, 1, False), (1, 0, False),
])
def test_sizes_from_1_to_2_pow_31_minus_1_are_valid(width, height, valid):
    data = png(ihdr(width, height), idat(b"\x00\x00"), IEND)
    if valid:
        assert (read_png_info(data).width, read_png_info(data).height) == (width, height)
    else:
        assert refusal(data) == f"PNG size {width}x{height} is invalid"


ALL_DEPTHS = (1, 2, 4, 8, 16)
COMBINATIONS = [(color, depth) for color in (0, 1, 2, 3, 4, 5, 6, 7) for depth in ALL_DEPTHS + (0, 3, 32)]


@pytest.mark.parametrize("color, depth", COMBINATIONS)
def test_colour_types_and_bit_depths_follow_the_png_table(color, depth):
    table = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
    data = png(ihdr(depth=depth, color=color), idat(ROWS_4x4 * 4), IEND)
    if depth in table.get(color, ()):
        info = read_png_info(data)
        assert (info.color_type, info.bit_depth, info.channels) == (color, depth, {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color])
    else:
        assert refusal(data) == f"PNG colour type {color} with bit depth {depth} is invalid"
    assert PNG_BIT_DEPTHS == table


@pytest.mark.parametrize("compression, filter_method, interlace, valid", [
    (0, 0, 0, True), (0, 0, 1, True), (1, 0, 0, False), (0, 1, 0, False), (0, 0, 2, False),
])
def test_methods_other_than_the_standard_ones_are_refused(compression, filter_method, interlace, valid):
    data = png(ihdr(compression=compression, filter_method=filter_method, interlace=interlace),
               idat(ROWS_4x4 * 4), IEND)
    if valid:
        assert read_png_info(data).interlace == interlace
    else:
        assert refusal(data) == "PNG uses an unknown compression, filter or interlace method"


# ---- png_is_blank ------------------------------------------------------------------------------

def blank(data) -> bool:
    return png_is_blank(data, read_png_info(data))


def blank_refusal(data) -> str:
    with pytest.raises(ImageError) as info:
        blank(data)
    return str(info.value)


def test_interlaced_masks_are_refused_with_what_to_do():
    data = png(ihdr(interlace=1), idat(ROWS_4x4 * 4), IEND)
    assert blank_refusal(data) == "interlaced PNG masks are not supported; write the mask non-interlaced"


@pytest.mark.parametrize("width, depth, color, row_bytes", [
    (9, 1, 0, 2), (8, 1, 0, 1), (3, 2, 0, 1), (5, 4, 0, 3), (3, 16, 0, 6), (2, 8, 2, 6), (3, 8, 4, 6), (1, 16, 6, 8),
])
def test_row_sizes_follow_width_channels_and_bit_depth(width, depth, color, row_bytes):
    height = 3
    rows = (b"\x00" + bytes(row_bytes)) * height
    data = png(ihdr(width, height, depth, color), idat(rows), IEND)
    assert blank(data)
    lit = (b"\x00" + bytes(row_bytes - 1) + b"\x01") * height
    assert not blank(png(ihdr(width, height, depth, color), idat(lit), IEND))
    short = png(ihdr(width, height, depth, color), idat(rows[:-1]), IEND)
    assert blank_refusal(short) == f"PNG pixel data holds {len(rows) - 1} bytes, its IHDR implies {len(rows)}"
    long = png(ihdr(width, height, depth, color), idat(rows + b"\x00"), IEND)
    assert blank_refusal(long) == f"PNG pixel data holds {len(rows) + 1} bytes, its IHDR implies {len(rows)}"


def test_pixel_data_after_the_first_idat_chunk_counts():
    rows = ROWS_4x4 * 3 + b"\x00\x00\x00\x00\x05"
    compressed = zlib.compress(rows)
    data = png(ihdr(), png_chunk(b"IDAT", compressed[:4]), png_chunk(b"IDAT", compressed[4:]), IEND)
    assert not blank(data)


def test_inflating_stops_one_byte_past_the_declared_size():
    too_long = ROWS_4x4 * 4 + bytes(10_000)
    assert blank_refusal(png(ihdr(), idat(too_long), IEND)) == "PNG pixel data holds 21 bytes, its IHDR implies 20"
    split = zlib.compress(too_long)
    data = png(ihdr(), png_chunk(b"IDAT", split[:6]), png_chunk(b"IDAT", split[6:]), IEND)
    assert blank_refusal(data) == "PNG pixel data holds 21 bytes, its IHDR implies 20"


def test_pixel_data_that_does_not_inflate_says_so():
    message = blank_refusal(png(ihdr(), png_chunk(b"IDAT", b"\xff" * 12), IEND))
    assert message.startswith("PNG pixel data does not inflate: ")


@pytest.mark.parametrize("kind, valid", [(0, True), (1, True), (2, True), (3, True), (4, True), (5, False),
                                         (255, False)])
def test_scanline_filter_types_0_to_4_are_known(kind, valid):
    rows = (bytes([kind]) + bytes(4)) * 4
    data = png(ihdr(), idat(rows), IEND)
    if valid:
        assert blank(data)
    else:
        assert blank_refusal(data) == "PNG uses an unknown scanline filter type"


def test_any_nonzero_pixel_byte_makes_a_mask_non_blank_whatever_the_filter_bytes():
    for rows in (ROWS_4x4 * 3 + b"\x00\x00\x00\x00\x01", b"\x00\x80\x00\x00\x00" + ROWS_4x4 * 3,
                 b"\x04\x00\x00\x00\x01" + (b"\x04" + bytes(4)) * 3):
        assert not blank(png(ihdr(), idat(rows), IEND))
    assert blank(png(ihdr(), idat((b"\x03" + bytes(4)) * 4), IEND))


# ---- encode_png, raw buffers ---------------------------------------------------------------------

@pytest.mark.parametrize("channels, color_type", [(1, 0), (3, 2), (4, 6)])
def test_encode_png_writes_8_bit_pngs_of_the_given_channels(channels, color_type):
    pixels = bytes(range(2 * 3 * channels))
    data = encode_png(pixels, 2, 3, channels)
    info = read_png_info(data)
    assert (info.width, info.height, info.bit_depth, info.color_type, info.interlace) == (2, 3, 8, color_type, 0)
    row = 2 * channels
    scanlines = zlib.decompress(data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8])
    assert scanlines == b"".join(b"\x00" + pixels[y * row:(y + 1) * row] for y in range(3))


def test_encode_png_level_trades_size_for_time():
    pixels = bytes(64 * 64)
    assert len(encode_png(pixels, 64, 64, 1, level=0)) > len(encode_png(pixels, 64, 64, 1, level=9))
    assert encode_png(pixels, 64, 64, 1) == encode_png(pixels, 64, 64, 1, level=6)


@pytest.mark.parametrize("args, message", [
    ((bytes(6), 2, 3, 2), "expected 1, 3 or 4 channels, got 2"),
    ((bytes(0), 0, 3, 1), "expected 0x3x1 = 0 bytes, got 0"),
    ((bytes(0), 3, 0, 1), "expected 3x0x1 = 0 bytes, got 0"),
    ((bytes(17), 2, 3, 3), "expected 2x3x3 = 18 bytes, got 17"),
    ((bytes(19), 2, 3, 3), "expected 2x3x3 = 18 bytes, got 19"),
])
def test_encode_png_refuses_sizes_that_do_not_add_up(args, message):
    with pytest.raises(ImageError) as info:
        encode_png(*args)
    assert str(info.value) == message


def test_raw_buffers():
    assert expected_raw_size(4, 3, 2) == 24 and expected_raw_size(1, 1, 1) == 1
    assert raw_is_blank(b"") and raw_is_blank(bytes(3))
    assert not raw_is_blank(b"\x01\x00\x00") and not raw_is_blank(b"\x00\x00\xff")


def flushed_idats(*parts: bytes) -> bytes:
    """One IDAT chunk per part of one zlib stream, each part flushed so it inflates on its own."""
    compressor = zlib.compressobj()
    pieces = [compressor.compress(part) + compressor.flush(zlib.Z_FULL_FLUSH) for part in parts[:-1]]
    pieces.append(compressor.compress(parts[-1]) + compressor.flush())
    return b"".join(png_chunk(b"IDAT", piece) for piece in pieces)


def test_pixel_data_past_the_declared_size_in_a_later_idat_is_refused():
    whole = ROWS_4x4 * 4                                    # exactly what a 4x4 8-bit gray IHDR implies
    assert blank(png(ihdr(), flushed_idats(whole[:7], whole[7:]), IEND))
    assert blank_refusal(png(ihdr(), flushed_idats(whole, b"\x00"), IEND)) == \
        "PNG pixel data holds 21 bytes, its IHDR implies 20"
    # a later chunk is inflated only up to one byte past the declared size, whatever came before
    assert blank_refusal(png(ihdr(), flushed_idats(whole[:10], bytes(5000)), IEND)) == \
        "PNG pixel data holds 21 bytes, its IHDR implies 20"


def test_encode_png_of_a_single_pixel():
    for channels in (1, 3, 4):
        data = encode_png(bytes(range(channels)), 1, 1, channels)
        info = read_png_info(data)
        assert (info.width, info.height, info.channels) == (1, 1, channels)
        assert zlib.decompress(data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]) == b"\x00" + bytes(range(channels))


def test_encode_png_ends_with_the_standard_empty_iend_chunk():
    # other readers (OpenCV, Blender) need IEND to be empty; the trailer is the same in every PNG
    assert encode_png(bytes(4), 2, 2, 1)[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"
