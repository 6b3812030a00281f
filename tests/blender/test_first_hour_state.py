"""First hour, item 7: the panel shows the live state — after disable/enable, Disconnect, a
reopened file, and a Cancel pressed by the user (which is no error)."""
from __future__ import annotations

from .conftest import build_scene, connect, drive, free_address  # noqa: F401  (fixtures)
from .test_panels import _draw_all


def _server_panel(log):
    ops = [e[1] for e in log if e[0] == "operator"]
    labels = [e[1] for e in log if e[0] == "label"]
    return ops, labels


def test_disable_enable_shows_not_connected(build_scene, server):
    import bpy

    import blender_addon
    build_scene()
    st = connect(bpy, server.address)
    assert st.connected
    ops, labels = _server_panel(_draw_all(bpy))
    assert "trackgo.disconnect" in ops and "trackgo.connect" not in ops
    blender_addon.unregister()
    blender_addon.register()
    st = bpy.context.scene.trackgo
    assert not st.connected and st.status == "Not connected"
    ops, labels = _server_panel(_draw_all(bpy))
    assert "trackgo.connect" in ops and "trackgo.disconnect" not in ops
    assert "Not connected" in labels
    # Even a stale saved flag does not make the panel say "connected".
    st.connected = True
    ops, labels = _server_panel(_draw_all(bpy))
    assert "trackgo.connect" in ops and "Not connected" in labels


def test_disconnect_and_reopening_clear_old_errors(build_scene, tmp_path):
    import bpy
    from blender_addon.blender import preferences

    build_scene()
    preferences.FALLBACK.timeout = 1.0
    st = connect(bpy, free_address())  # nothing there: an error
    assert "server unreachable" in st.error
    assert bpy.ops.trackgo.disconnect() == {"FINISHED"}
    assert st.error == "" and st.status == "Not connected"
    st.error = "server unreachable at tcp://127.0.0.1:1"
    blend = tmp_path / "again.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    assert bpy.context.scene.trackgo.error == ""


def test_a_cancel_the_user_pressed_is_not_an_error(build_scene, slow_server):
    import bpy
    from blender_addon.blender import compat

    build_scene(frames=12)
    st = connect(bpy, slow_server.address)
    bpy.ops.trackgo.auto_pair()
    bpy.ops.trackgo.generate()
    drive(lambda: any(len(s.elements) >= 1 for s in compat.strips(bpy.context.scene.sequence_editor or
                                                                  bpy.context.scene.sequence_editor_create())), 60)
    assert bpy.ops.trackgo.cancel() == {"FINISHED"}
    drive(lambda: not st.busy, 30)
    assert st.error == ""
    assert st.progress_text.startswith("Cancelled") and "Job cancelled" in st.status
