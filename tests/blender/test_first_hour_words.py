"""First hour, item 12: plain names and tooltips; settings the chosen backend ignores are hidden
(from welcome.backends[].params; a 1.0 server that does not say shows them all)."""
from __future__ import annotations

from .conftest import build_scene, connect  # noqa: F401  (fixtures)
from .test_panels import _draw_all

JARGON = ("τ", "α", "bucket", "guidance", "steps", "noise aug")


def test_settings_have_plain_names_and_tooltips(addon):
    bpy = addon
    from blender_addon.blender import panels

    props = type(bpy.context.scene.trackgo).bl_rna.properties
    for name in panels.GENERATION_SETTINGS:
        label = props[name].name
        assert not any(j in label.lower() for j in JARGON), label
        assert len(props[name].description) > 20, name


def test_settings_the_backend_ignores_are_hidden(build_scene, server):
    import bpy
    from blender_addon.blender import session

    build_scene()
    connect(bpy, server.address)
    welcome = session.SESSION.client.welcome
    shown = {e[1] for e in _draw_all(bpy) if e[0] == "prop"}
    if not any("params" in b for b in welcome["backends"]):  # a server that does not say: all shown
        assert {"num_inference_steps", "tau", "motion_bucket_id"} <= shown
    for entry in welcome["backends"]:
        entry["params"] = ["frames", "seed", "width", "height", "backend"]   # the preview backend's kind
    shown = {e[1] for e in _draw_all(bpy) if e[0] == "prop"}
    assert "frames" in shown and "fit" in shown and "size_mode" in shown
    assert not {"num_inference_steps", "tau", "alpha", "motion_bucket_id", "fps"} & shown
    for entry in welcome["backends"]:
        del entry["params"]
    shown = {e[1] for e in _draw_all(bpy) if e[0] == "prop"}
    assert {"num_inference_steps", "tau", "alpha", "motion_bucket_id", "fps"} <= shown
