"""The bpy layer: properties, preferences, operators, panels, overlay, timer session."""
from __future__ import annotations

import bpy

from . import operators, overlay, panels, preferences, properties, session

CLASSES = preferences.CLASSES + operators.CLASSES + panels.CLASSES


@bpy.app.handlers.persistent
def _on_load_pre(*_args):
    """A new file drops the jobs of the old one (their scenes are gone); frames stay on disk."""
    session.shutdown()


def register():
    properties.register()
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_pre.append(_on_load_pre)


def unregister():
    session.shutdown()
    overlay.disable()
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    properties.unregister()
