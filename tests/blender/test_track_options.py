"""The per-track Turn Along Arrow / Soft Edge options: plain tooltips, sent with the job only
when set (a 1.0 server never sees them otherwise)."""
from __future__ import annotations

from .conftest import addon, build_scene  # noqa: F401  (fixtures)


def test_track_options_have_plain_tooltips(addon):
    settings = addon.types.Scene.bl_rna.properties["trackgo"].fixed_type
    props = settings.properties["tracks"].fixed_type.properties
    assert props["turn_along_arrow"].description == "the painted part turns as the arrow curves"
    assert props["soft_edge"].description == "feather the painted part's edge by this many pixels"


def test_the_job_carries_the_track_options_only_when_set(build_scene):
    import bpy

    from blender_addon.blender import operators

    scene = build_scene()
    bpy.ops.trackgo.auto_pair()
    body = operators.build_now(bpy.context).body
    assert all("rotate" not in t and "edge_softness" not in t for t in body["tracks"])
    track = scene.trackgo.tracks[0]
    track.turn_along_arrow, track.soft_edge = True, 6.5
    body = operators.build_now(bpy.context).body
    assert body["tracks"][0]["rotate"] is True
    assert abs(body["tracks"][0]["edge_softness"] - 6.5) < 1e-6
    assert all("rotate" not in t and "edge_softness" not in t for t in body["tracks"][1:])
