"""Point tracks from the 3D scene: exact projection, occlusion, deformation (issue 14)."""
from __future__ import annotations

import math

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_addon import demo_previs_scene as ds  # noqa: E402
from blender_addon.blender import scene_tracks as st  # noqa: E402
from blender_addon.io import projection  # noqa: E402

W, H = 320, 240
FX = 50.0 / 36.0 * W                 # lens / sensor width * image width (sensor fit AUTO, landscape)
CAM_Y = -10.0


def analytic(world):
    """Pinhole projection of the test camera (at y = -10 looking along +Y): protocol pixels."""
    world = np.asarray(world, dtype=np.float64)
    depth = world[..., 1] - CAM_Y
    u = (W - 1) / 2 + FX * world[..., 0] / depth
    v = (H - 1) / 2 - FX * world[..., 2] / depth
    return np.stack([u, v], axis=-1)


def unproject(px, depth):
    """Pixels at a known depth → world (inverse of ``analytic``)."""
    px = np.asarray(px, dtype=np.float64)
    x = (px[..., 0] - (W - 1) / 2) * depth / FX
    z = ((H - 1) / 2 - px[..., 1]) * depth / FX
    return np.stack([x, np.full_like(x, CAM_Y + depth), z], axis=-1)


@pytest.fixture
def scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    sc = bpy.context.scene
    ds.set_render_size(sc, W, H)
    sc.frame_start, sc.frame_end = 1, 11
    return sc


def test_cube_on_a_known_path_matches_the_analytic_projection(scene):
    cube = ds.box("Cube")
    path = {1: (0.0, 0.0, 0.0), 11: (2.0, 0.0, 1.0)}
    ds.linear_keys(cube, "location", path)
    cam = ds.camera()
    scene.frame_set(4)
    (track,) = st.scene_tracks(scene, [cube], cam, frames=6)
    assert scene.frame_current == 4                               # restored
    k = track.points.shape[0]
    assert track.points.shape == (k, 6, 2) and track.visible.shape == (k, 6) and track.visible.all()
    assert k == projection.points_per_mask(track.mask)           # Eq. 10 on the silhouette
    # the silhouette is the front face: a square of side 2 at depth 9
    (u0, v1), (u1, v0) = analytic([[-1, -1, -1], [1, -1, 1]])
    expected = np.zeros((H, W), bool)
    expected[int(np.ceil(v0)):int(np.floor(v1)) + 1, int(np.ceil(u0)):int(np.floor(u1)) + 1] = True
    np.testing.assert_array_equal(track.mask, expected)            # pixel centres inside the face
    # every anchor lies on the front face (y = -1, depth 9); frame i is scene frame 1 + 2i
    anchors = unproject(track.points[:, 0], 9.0)
    assert np.all(np.abs(anchors[:, [0, 2]]) <= 1 + 1e-9)
    for i in range(6):
        t = (2 * i) / 10
        expected = analytic(anchors + np.array([2.0, 0.0, 1.0]) * t)
        np.testing.assert_allclose(track.points[:, i], expected, atol=0.01)
    assert np.abs(track.points[:, -1] - track.points[:, 0]).max() > 50      # it really moved


def test_a_point_behind_another_object_is_invisible(scene):
    cube = ds.box("Cube")
    ds.linear_keys(cube, "location", {1: (0.0, 0.0, 0.0), 11: (2.0, 0.0, 0.0)})
    wall = ds.box("Wall", size=(1.8, 0.1, 6.0), location=(2.1, -5.0, 0.0))     # x 1.2 .. 3.0 at depth 5
    cam = ds.camera()
    (track,) = st.scene_tracks(scene, [cube], cam, frames=6)
    assert track.visible[:, 0].all()
    edge = analytic([[1.2, -5.05, 0.0]])[0, 0]                      # the wall's left edge, in pixels
    u = track.points[..., 0]
    clear = np.abs(u - edge) > 1.0
    assert ((u > edge) & clear).any() and ((u < edge) & clear).any()
    np.testing.assert_array_equal(track.visible[clear], (u < edge)[clear])
    assert wall.name not in [t.name for t in [track]]


def test_the_silhouette_is_occluded_by_objects_in_front(scene):
    cube = ds.box("Cube")
    ds.box("Post", size=(0.6, 0.1, 6.0), location=(0.0, -5.0, 0.0))        # hides x -0.3 .. 0.3 at depth 5
    cam = ds.camera()
    (track,) = st.scene_tracks(scene, [cube], cam, frames=2)
    row = track.mask[H // 2]
    post = analytic([[-0.3, -5.05, 0], [0.3, -5.05, 0]])[:, 0]
    assert not row[int(np.ceil(post[0])) + 1:int(np.floor(post[1]))].any()
    assert row[:int(post[0]) - 1].any() and row[int(post[1]) + 2:].any()
    assert (np.abs(track.points[:, 0, 0] - (W - 1) / 2) > (post[1] - post[0]) / 2 - 1).all()


def test_points_follow_an_armature_deformation(scene):
    sheet = ds.grid("Sheet", columns=4, rows=2, size=(2.0, 2.0))              # in the plane y = 0
    arm_data = bpy.data.armatures.new("Rig")
    rig = bpy.data.objects.new("Rig", arm_data)
    scene.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    for name, x in (("Left", -0.5), ("Right", 0.5)):
        bone = arm_data.edit_bones.new(name)
        bone.head, bone.tail = (x, 0.0, 0.0), (x, 1.0, 0.0)                # along +Y: local axes = world axes
    bpy.ops.object.mode_set(mode="OBJECT")
    groups = {name: sheet.vertex_groups.new(name=name) for name in ("Left", "Right")}
    for v in sheet.data.vertices:
        groups["Right" if v.co.x > 1e-6 else "Left"].add([v.index], 1.0, "REPLACE")
    mod = sheet.modifiers.new("Armature", "ARMATURE")
    mod.object = rig
    lift = np.array([0.0, 0.0, 0.8])
    ds.linear_keys(rig.pose.bones["Right"], "location", {1: (0.0, 0.0, 0.0), 11: tuple(lift)})
    cam = ds.camera()
    (track,) = st.scene_tracks(scene, [sheet], cam, frames=3)
    anchors = unproject(track.points[:, 0], 10.0)
    left = anchors[:, 0] < -0.01                        # on triangles whose vertices are all static
    right = anchors[:, 0] > 0.51                        # on triangles whose vertices all follow "Right"
    assert left.any() and right.any()
    for i, t in enumerate((0.0, 0.5, 1.0)):
        np.testing.assert_allclose(track.points[left, i], analytic(anchors[left]), atol=0.01)
        np.testing.assert_allclose(track.points[right, i], analytic(anchors[right] + lift * t), atol=0.01)


def test_points_follow_a_shape_key(scene):
    sheet = ds.grid("Sheet", columns=4, rows=2, size=(2.0, 2.0))
    sheet.shape_key_add(name="Basis")
    raise_key = sheet.shape_key_add(name="Raise", from_mix=False)
    lift = np.array([0.0, 0.0, 0.6])
    for v in raise_key.data:
        if v.co.x > 1e-6:
            v.co = tuple(np.array(v.co) + lift)
    ds.linear_keys(raise_key, "value", {1: 0.0, 11: 1.0})
    cam = ds.camera()
    (track,) = st.scene_tracks(scene, [sheet], cam, frames=3)
    anchors = unproject(track.points[:, 0], 10.0)
    left, right = anchors[:, 0] < -0.01, anchors[:, 0] > 0.51
    assert left.any() and right.any()
    for i, t in enumerate((0.0, 0.5, 1.0)):
        np.testing.assert_allclose(track.points[left, i], analytic(anchors[left]), atol=0.01)
        np.testing.assert_allclose(track.points[right, i], analytic(anchors[right] + lift * t), atol=0.01)


def test_an_empty_is_one_point_with_a_disc_mask(scene):
    empty = bpy.data.objects.new("Target", None)
    scene.collection.objects.link(empty)
    ds.linear_keys(empty, "location", {1: (0.0, 0.0, 0.0), 11: (1.0, 0.0, -1.0)})
    cam = ds.camera()
    (track,) = st.scene_tracks(scene, [empty], cam, frames=3)
    assert track.points.shape == (1, 3, 2)
    np.testing.assert_allclose(track.points[0], analytic([[0, 0, 0], [0.5, 0, -0.5], [1, 0, -1]]), atol=0.01)
    ys, xs = np.nonzero(track.mask)
    assert abs(xs.mean() - track.points[0, 0, 0]) < 1 and abs(ys.mean() - track.points[0, 0, 1]) < 1


def test_an_object_out_of_view_is_reported_by_name(scene):
    cube = ds.box("Offscreen", location=(50.0, 0.0, 0.0))
    cam = ds.camera()
    with pytest.raises(st.SceneTrackError, match="Offscreen"):
        st.scene_tracks(scene, [cube], cam, frames=2)


def test_real_time_resampling_and_range_fit():
    np.testing.assert_allclose(projection.output_scene_frames(1, 11, 6), [1, 3, 5, 7, 9, 11])
    np.testing.assert_allclose(projection.output_scene_frames(1, 5, 4, scene_fps=24, fps=12), [1, 3, 5, 5])
    with pytest.raises(ValueError):
        projection.output_scene_frames(5, 1, 3)


def test_workbench_reference_shows_the_object_where_its_silhouette_is(scene):
    from blender_addon.blender import scene_reference

    cube = ds.box("Cube")
    cam = ds.camera()
    (track,) = st.scene_tracks(scene, [cube], cam, frames=2)
    engine = scene.render.engine
    rgb = scene_reference.render_reference(scene, cam, "WORKBENCH", frame=1)
    assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8 and scene.render.engine == engine
    inner = track.mask & np.roll(track.mask, 2, 0) & np.roll(track.mask, -2, 0) & np.roll(track.mask, 2, 1) \
        & np.roll(track.mask, -2, 1)
    outside = ~np.roll(track.mask, 0)
    for m in range(2):
        outside &= ~np.roll(track.mask, 3 - 6 * m, 0) & ~np.roll(track.mask, 3 - 6 * m, 1)
    cube_grey = rgb[inner].astype(float).mean(axis=0)
    world_grey = rgb[outside].astype(float).mean(axis=0)
    assert rgb[inner].std(axis=0).max() < 3 and np.abs(cube_grey - world_grey).max() > 20


def test_plate_is_fitted_to_the_camera_frame(scene):
    from blender_addon.blender import scene_reference

    cam = ds.camera()
    img = bpy.data.images.new("Plate", 160, 60)              # wider than the 4:3 frame
    pixels = np.zeros((60, 160, 4), np.float32)
    pixels[..., 3] = 1
    pixels[:, :80, 0] = 1                                       # left half red, right half green
    pixels[:, 80:, 1] = 1
    pixels[50:, :, 2] = 1                                       # Blender's last rows: the top, blue
    img.pixels.foreach_set(pixels.ravel())
    bg = cam.data.background_images.new()
    bg.image = img
    for method in ("STRETCH", "CROP", "FIT"):
        bg.frame_method = method
        rgb = scene_reference.plate_reference(cam, W, H)
        assert rgb.shape == (H, W, 3)
        assert rgb[H // 2, W // 4, 0] == 255 and rgb[H // 2, 3 * W // 4, 1] == 255
        blue_top = np.flatnonzero(rgb[:, W // 2, 2] == 255)
        assert blue_top.size and blue_top.max() < H // 2              # the top stays on top
    fit = scene_reference.plate_reference(cam, W, H, frame_method="FIT")
    assert not fit[0].any() and not fit[-1].any()             # letterboxed
    assert fit[H // 2].all(axis=-1).sum() == 0 and fit[H // 2, 0, 0] == 255


def test_small_and_large_triangles_rasterise_alike():
    """The batched path (many tiny triangles) covers exactly what two big triangles of the same plane do."""
    view = np.eye(4)
    view[2, 3] = -10.0                                    # camera at z = +10 looking down -Z
    fx, near, far = 400.0, 0.1, 100.0
    proj = np.array([[2 * fx / W, 0, 0, 0], [0, 2 * fx / H, 0, 0],
                     [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)], [0, 0, -1, 0]])
    n = 40
    xs, ys = np.meshgrid(np.linspace(-1.5, 1.2, n + 1), np.linspace(-1.1, 0.9, n + 1))
    verts = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    quads = [(j * (n + 1) + i, j * (n + 1) + i + 1, (j + 1) * (n + 1) + i + 1, (j + 1) * (n + 1) + i)
             for j in range(n) for i in range(n)]
    fine = [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]
    corners = [0, n, (n + 1) * (n + 1) - 1, n * (n + 1)]
    coarse = [(corners[0], corners[1], corners[2]), (corners[0], corners[2], corners[3])]
    small = projection.rasterize([(verts, fine)], view, proj, W, H)
    large = projection.rasterize([(verts, coarse)], view, proj, W, H)
    assert small.mask(0).sum() > 5000
    np.testing.assert_array_equal(small.mask(0), large.mask(0))
    both = small.mask(0)
    np.testing.assert_allclose(small.depth[both], large.depth[both], atol=1e-9)
    assert len(np.unique(small.triangle[both])) > 1000          # really many small triangles
