"""Which references are read by a separate Blender process (``io.decode``) instead of a
main-thread ``Image.pixels`` copy: big ones that Blender holds exactly as a file says — an
unmodified image from a file on disk, or packed into the .blend. Generated, painted (unsaved),
render-result, movie, sequence and tiled images are read in Blender as before (one timer call).
"""
from __future__ import annotations

import os
import sys

import bpy

from ..io import decode

# Up to a UHD plate (8.3 MP) the main-thread copy takes ~55 ms even on Blender 4.2; above, the
# separate process reads it (a 4096² photo: ~115 ms in one main-thread call on 4.2).
IN_PROCESS_MAX_PIXELS = 3840 * 2160


def blender_command() -> tuple:
    """How to start a Blender that runs Python code given next on the command line."""
    binary = bpy.app.binary_path
    if binary and os.path.isfile(binary):
        return (binary, "--background", "--factory-startup", "--python-exit-code", "1", "--python-expr")
    return (sys.executable, "-c")  # the bpy module: its Python imports bpy


def file_reference(image):
    """An ``io.decode.FileReference`` for ``image``, or None when Blender must read it itself."""
    w, h = image.size
    if w * h <= IN_PROCESS_MAX_PIXELS:
        return None
    if image.type != "IMAGE" or image.source != "FILE" or image.is_dirty or image.use_multiview:
        return None
    packed, path = image.packed_file, ""
    if packed is not None:
        data = packed.data
    else:
        data, path = None, bpy.path.abspath(image.filepath, library=image.library)
        if not os.path.isfile(path):
            return None
    return decode.FileReference(path, int(w), int(h), bool(image.is_float), image.colorspace_settings.name,
                                image.alpha_mode, blender_command(), data,
                                os.path.splitext(image.filepath)[1])
