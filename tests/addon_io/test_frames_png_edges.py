"""A frame's announced size is read from all four big-endian bytes of the PNG header
(``blender_addon.io.frames.check_png``): a mislabelled frame whose high byte is set is refused,
not read as the small size its low bytes spell."""
from __future__ import annotations

import pytest

from blender_addon.io.frames import check_png
from tests.addon_io.test_frames_launcher import tiny_png


def with_header_byte(png: bytes, at: int, value: int) -> bytes:
    return png[:at] + bytes([value]) + png[at + 1:]


def test_a_width_with_its_high_byte_set_is_read_whole_and_refused():
    png = with_header_byte(tiny_png(7, 3), 16, 1)          # width 0x01000007
    assert check_png(png) == (2 ** 24 + 7, 3)
    with pytest.raises(ValueError, match=r"^frame data: PNG is 16777223x3, the message says 7x3$"):
        check_png(png, 7, 3)


def test_a_height_with_its_high_byte_set_is_read_whole_and_refused():
    png = with_header_byte(tiny_png(7, 3), 20, 1)          # height 0x01000003
    assert check_png(png) == (7, 2 ** 24 + 3)
    with pytest.raises(ValueError, match=r"^frame data: PNG is 7x16777219, the message says 7x3$"):
        check_png(png, 7, 3)
