"""The dual-clock settings in the add-on: plain names and tooltips, defaults from the protocol,
and sent with the job."""
from __future__ import annotations

from blender_addon.protocol import sp

from .conftest import addon, build_scene  # noqa: F401  (fixtures)


def test_settings_have_plain_words_and_protocol_defaults(addon):
    props = addon.types.Scene.bl_rna.properties["trackgo"].fixed_type.properties
    assert "how free the background is" in props["dual_clock_weak"].description
    assert "how strictly the painted parts follow the arrows" in props["dual_clock_strong"].description
    for name in ("dual_clock_weak", "dual_clock_strong", "background_follow"):
        assert abs(props[name].default - sp.messages.DEFAULT_PARAMS[name]) < 1e-6, name


def test_the_job_carries_the_settings(build_scene):
    import bpy

    from blender_addon.blender import inputs, operators

    scene = build_scene()
    st = scene.trackgo
    st.dual_clock_weak, st.dual_clock_strong, st.background_follow = 0.2, 0.6, 0.5
    bpy.ops.trackgo.auto_pair()
    body, _, _, _ = operators._build(bpy.context)
    for name, value in (("dual_clock_weak", 0.2), ("dual_clock_strong", 0.6), ("background_follow", 0.5)):
        assert abs(body["params"][name] - value) < 1e-6, name
    assert inputs.generation_params(st)["dual_clock_strong"] == st.dual_clock_strong
