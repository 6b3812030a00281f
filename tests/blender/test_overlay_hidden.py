"""The overlay hides what the scene hides (issue 14): a scene point behind a wall is drawn hollow.
The drawing data's own rules are tested without Blender in tests/addon_io/test_plan_drawing.py."""
from __future__ import annotations

import pytest


def test_a_scene_point_behind_a_wall_is_hidden_in_the_overlay():
    bpy = pytest.importorskip("bpy")
    from blender_addon import demo_previs_scene as ds
    from blender_addon.blender import scene_sources, scene_tracks
    from blender_addon.blender.overlay import plan_geometry

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    ds.set_render_size(scene, 160, 120)
    scene.frame_start, scene.frame_end = 1, 11
    cube = ds.box("Cube")
    ds.linear_keys(cube, "location", {1: (0.0, 0.0, 0.0), 11: (2.0, 0.0, 0.0)})
    ds.box("Wall", size=(1.8, 0.1, 6.0), location=(2.1, -5.0, 0.0))
    cam = ds.camera()
    (track,) = scene_tracks.scene_tracks(scene, [cube], cam, frames=6)
    assert track.visible[:, 0].all() and not track.visible.all()     # seen first, then behind the wall
    (drawn,) = plan_geometry(scene_sources.plan_body([track], 160, 120))
    k = track.points.shape[0]
    assert len(drawn.points) == k and not drawn.hidden_points
    hidden_pairs = int((~(track.visible[:, :-1] & track.visible[:, 1:])).sum())
    assert len(drawn.hidden_segments) == hidden_pairs > 0
    assert len(drawn.segments) + hidden_pairs == k * 5
