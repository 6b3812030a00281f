"""A strip's timing through blender/compat.py: the same answers in every Blender line, and no
deprecation warning where Blender has renamed the properties (5.1 on)."""
from __future__ import annotations

import warnings

import bpy
import pytest

from blender_addon.blender import compat, strips


@pytest.fixture
def scene(tmp_path):
    sc = bpy.data.scenes.new("CompatStrips")
    yield sc
    bpy.data.scenes.remove(sc)


def _image_strip(scene, tmp_path, frame_start, n, channel=1):
    frames = [tmp_path / f"{i:04d}.png" for i in range(1, n + 1)]
    strip = compat.strips(scene.sequence_editor_create()).new_image(
        name=f"S{frame_start}", filepath=str(frames[0]), channel=channel, frame_start=frame_start)
    for f in frames[1:]:
        strips.append(strip, str(f))
    return strip


def test_strip_timing_is_read_the_same_in_every_line_without_deprecation_warnings(scene, tmp_path):
    strip = _image_strip(scene, tmp_path, 10, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timing = (compat.strip_content_start(strip), compat.strip_left(strip), compat.strip_right(strip),
                  compat.strip_duration(strip))
    assert timing == (10, 10, 14, 4)
    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []
    # 5.1 and later warn about the old names and have the new ones; 5.0 and earlier only the old.
    assert compat.HAS_STRIP_HANDLES == (bpy.app.version >= (5, 1, 0))


def test_a_trimmed_strip_keeps_its_content_start_and_shows_its_handles(scene, tmp_path):
    strip = _image_strip(scene, tmp_path, 10, 6)
    if compat.HAS_STRIP_HANDLES:
        strip.left_handle, strip.right_handle = 12, 15
    else:
        strip.frame_final_start, strip.frame_final_end = 12, 15
    assert (compat.strip_content_start(strip), compat.strip_left(strip), compat.strip_right(strip),
            compat.strip_duration(strip)) == (10, 12, 15, 3)


def test_free_channel_follows_the_shown_range(scene, tmp_path):
    _image_strip(scene, tmp_path, 10, 4)                  # shows 10..13 on channel 1
    assert strips.free_channel(scene, 14, 5) == 1         # starts where it ends: no overlap
    assert strips.free_channel(scene, 5, 5) == 1          # ends before it starts
    assert strips.free_channel(scene, 13, 2) == 2         # overlaps its last frame
    _image_strip(scene, tmp_path, 12, 3, channel=2)
    assert strips.free_channel(scene, 12, 1) == 3
