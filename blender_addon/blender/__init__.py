"""The bpy layer: properties, preferences, operators, panels, overlay, timer session."""
from __future__ import annotations

import bpy

from . import (operators, operators_review, operators_scene, operators_takes, operators_timing, overlay, panels,
               panels_scene, panels_takes, panels_timing, preferences, properties, properties_scene, session, takes,
               timing)

CLASSES = (preferences.CLASSES + operators.CLASSES + panels.CLASSES
           + operators_scene.CLASSES + panels_scene.CLASSES       # scene / tracker sources (issue 14)
           + operators_takes.CLASSES + operators_timing.CLASSES + operators_review.CLASSES
           + panels_takes.CLASSES + panels_timing.CLASSES)


@bpy.app.handlers.persistent
def _on_load_pre(*_args):
    """A new file drops the jobs of the old one (their scenes are gone); frames stay on disk."""
    session.shutdown()


@bpy.app.handlers.persistent
def _on_load_post(*_args):
    """A file saved while connected or generating keeps that status, but the connection and
    the job ended with the old session: show "Not connected" and no running job."""
    for scene in bpy.data.scenes:
        st = getattr(scene, "trackgo", None)
        if st is None:
            continue
        if st.busy:
            st.progress_text = "Interrupted: the file was saved while a job ran"
        st.connected = st.busy = False
        st.status = "Not connected"
        st.error = ""  # a message from another session
        properties_scene.migrate(scene)  # an older file's separate scene / tracker list → the one list


@bpy.app.handlers.persistent
def _on_save_pre(*args):
    """First save of a file whose takes went to the temporary folder: move them beside it
    (Blender passes the path being saved to; the file's own path is still the old one)."""
    session.adopt_temp_frames(next((a for a in args if isinstance(a, str) and a), ""))


def register():
    properties.register()
    properties_scene.register()
    takes.register()
    timing.register()
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_pre.append(_on_load_pre)
    bpy.app.handlers.load_post.append(_on_load_post)
    bpy.app.handlers.save_pre.append(_on_save_pre)


def unregister():
    session.shutdown()
    overlay.disable()
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    if _on_load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_on_load_post)
    if _on_save_pre in bpy.app.handlers.save_pre:
        bpy.app.handlers.save_pre.remove(_on_save_pre)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    timing.unregister()
    takes.unregister()
    properties_scene.unregister()
    properties.unregister()
