"""Grab Sequencer Frame: the picture the sequencer shows at the playhead, as a packed reference.

The top strip at the playhead decides how:

* an image strip: its own file, at its own size (no render at all);
* a movie strip: the sequencer renders that frame at the movie's own size (the strip's place in
  the preview — position, scale, rotation, crop — is left out for that one render), so a
  320×240 plate stays 320×240 in a 1920×1080 scene: no upscaling, no black bars. Reading a movie
  needs Blender's FFmpeg; a Blender built without it is told so in words;
* anything else (colour, scene, text, effect strips): rendered at the render resolution, all
  channels composited.

Every render is without the view transform (the picture as the strips hold it), to a PNG file
that is loaded, packed into the .blend and deleted; the scene's settings come back as they were.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

import bpy

from . import compat


class GrabError(ValueError):
    """Nothing usable to grab; the message says what and why."""


def shown_strip(scene):
    """The strip on top at the playhead (not muted), or None."""
    se = scene.sequence_editor
    f = scene.frame_current
    shown = [s for s in compat.strips(se) if not s.mute and compat.strip_left(s) <= f < compat.strip_right(s)]
    return max(shown, key=lambda s: s.channel) if shown else None


def _abspath(strip, path: str) -> str:
    return bpy.path.abspath(path, library=strip.id_data.library)


def image_strip_file(strip, frame: int):
    """The file an image strip shows at ``frame``, or None when it is missing."""
    if strip.type != "IMAGE" or not len(strip.elements):
        return None
    index = min(max(0, frame - int(compat.strip_content_start(strip))), len(strip.elements) - 1)
    path = _abspath(strip, os.path.join(strip.directory, strip.elements[index].filename))
    return path if os.path.isfile(path) else None


def has_ffmpeg() -> bool:
    """Whether this Blender can read movies (built with FFmpeg)."""
    return bool(bpy.app.build_options.codec_ffmpeg)


def movie_size(strip) -> tuple[int, int]:
    """A movie strip's own frame size; raises GrabError when Blender cannot read the movie."""
    name = strip.name
    if not has_ffmpeg():
        raise GrabError(f"Sequencer: movie strip {name!r} cannot be read: this Blender was built without "
                        f"FFmpeg (bpy.app.build_options.codec_ffmpeg is off); use an image sequence of "
                        f"the plate, or a Blender with FFmpeg")
    path = _abspath(strip, strip.filepath)
    if not os.path.isfile(path):
        raise GrabError(f"Sequencer: movie strip {name!r}: file {path!r} not found")
    w, h = (strip.elements[0].orig_width, strip.elements[0].orig_height) if len(strip.elements) else (0, 0)
    if w <= 0 or h <= 0:
        raise GrabError(f"Sequencer: movie strip {name!r}: Blender could not read a frame size from {path!r}")
    return int(w), int(h)


@contextmanager
def _settings(*pairs):
    """Set (owner, attribute, value) for the block, then put every value back."""
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in pairs]
    try:
        for owner, attr, value in pairs:
            setattr(owner, attr, value)
        yield
    finally:
        for owner, attr, value in reversed(saved):
            setattr(owner, attr, value)


def _at_own_size(scene, strip, size):
    """The settings that make the render show ``strip`` pixel for pixel at ``size``."""
    r, t, c = scene.render, strip.transform, strip.crop
    return ((r, "resolution_x", size[0]), (r, "resolution_y", size[1]), (r, "resolution_percentage", 100),
            (r, "pixel_aspect_x", 1.0), (r, "pixel_aspect_y", 1.0),
            (t, "scale_x", 1.0), (t, "scale_y", 1.0), (t, "offset_x", 0.0), (t, "offset_y", 0.0),
            (t, "rotation", 0.0), (c, "min_x", 0), (c, "max_x", 0), (c, "min_y", 0), (c, "max_y", 0))


def render_frame(scene, own=()) -> str:
    """Render the sequencer at the playhead to a PNG (the picture as the strips hold it, no view
    transform); ``own`` are more temporary settings. Returns the file path."""
    r, view = scene.render, scene.view_settings
    path = os.path.join(tempfile.gettempdir(), f"trackgo_grab_{os.getpid()}_{scene.frame_current}.png")
    ims = r.image_settings
    pairs = []
    if hasattr(ims, "media_type"):  # 5.0: a scene set to render video has media type VIDEO
        pairs.append((ims, "media_type", "IMAGE"))
    pairs += [(r, "filepath", path), (ims, "file_format", "PNG"), (ims, "color_mode", "RGB"),
              (r, "use_sequencer", True), (view, "view_transform", "Standard"), (view, "look", "None"),
              (view, "exposure", 0.0), (view, "gamma", 1.0), *own]
    with _settings(*pairs):
        bpy.ops.render.render(write_still=True)
    if not os.path.exists(path):
        raise GrabError("Sequencer: the frame could not be rendered")
    return path


def _packed(path: str, scene, remove: bool):
    img = bpy.data.images.load(path, check_existing=False)
    img.name = f"TrackGo frame {scene.frame_current}"
    img.pack()
    if remove:
        os.unlink(path)
    return img


def grab(scene):
    """The picture the sequencer shows at the playhead, as a new packed image (see the module)."""
    se = scene.sequence_editor
    if se is None or not len(compat.strips(se)):
        raise GrabError("Sequencer: there is nothing to grab (no strips)")
    top = shown_strip(scene)
    own = image_strip_file(top, scene.frame_current) if top is not None else None
    if own is not None:  # the plate itself: no upscaling to the render size, no black bars
        return _packed(own, scene, remove=False)
    if top is not None and top.type == "MOVIE":
        return _packed(render_frame(scene, _at_own_size(scene, top, movie_size(top))), scene, remove=True)
    return _packed(render_frame(scene), scene, remove=True)
