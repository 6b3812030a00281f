"""3D scene → reference pixels (``blender_addon.io.projection``) without Blender: a pinhole camera
built from plain matrices, squares at known depths, and the pixels each must cover worked out
by hand."""
from __future__ import annotations

import numpy as np
import pytest

import shared_protocol as sp
from blender_addon.io import projection as P

W, H = 64, 48
FX = 400.0                      # focal length in pixels: at depth 10, one world unit is 40 px
NEAR, FAR = 0.1, 100.0


def camera(z=10.0):
    """A camera at (0, 0, z) looking down -Z (Blender's convention), y up."""
    view = np.eye(4)
    view[2, 3] = -z
    proj = np.array([[2 * FX / W, 0, 0, 0], [0, 2 * FX / H, 0, 0],
                     [0, 0, -(FAR + NEAR) / (FAR - NEAR), -2 * FAR * NEAR / (FAR - NEAR)], [0, 0, -1, 0]])
    return view, proj


def square(x0, y0, x1, y1, z=0.0):
    verts = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)
    return verts, np.array([[0, 1, 2], [0, 2, 3]])


def test_project_follows_the_pinhole_model():
    view, proj = camera()
    px, depth, w, ndc_z = P.project([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0.5, -0.25, 5.0]], view, proj, W, H)
    cx, cy = W / 2 - 0.5, H / 2 - 0.5                     # the image centre in protocol pixels
    assert np.allclose(px, [[cx, cy], [cx + 40, cy], [cx, cy - 40], [cx + 40, cy + 20]])
    assert np.allclose(depth, [10, 10, 10, 5]) and np.allclose(w, [10, 10, 10, 5])
    expected_z = ((FAR + NEAR) / (FAR - NEAR) * np.array([10, 10, 10, 5]) - 2 * FAR * NEAR / (FAR - NEAR)) \
        / np.array([10, 10, 10, 5])
    assert np.allclose(ndc_z, expected_z)
    _, behind, w_behind, _ = P.project([[0, 0, 20.0]], view, proj, W, H)
    assert behind[0] == -10 and w_behind[0] == -10
    # a point on the camera plane (w = 0) gives finite numbers, not a division error
    px0, _, w0, _ = P.project([[1.0, 0.0, 10.0]], view, proj, W, H)
    assert w0[0] == 0 and np.isfinite(px0).all()
    assert P.project(np.zeros(3), view, proj, W, H)[0].shape == (1, 2)


def test_a_square_covers_the_pixel_centres_inside_it():
    view, proj = camera()
    r = P.rasterize([square(-0.5, -0.5, 0.5, 0.5)], view, proj, W, H)
    # x from 11.5 to 51.5 and y from 3.5 to 43.5 in pixels: centres 12..51 and 4..43
    m = r.mask(0)
    assert m.shape == (H, W) and m.sum() == 40 * 40
    assert np.argwhere(m).min(axis=0).tolist() == [4, 12] and np.argwhere(m).max(axis=0).tolist() == [43, 51]
    assert (r.object_id[~m] == -1).all() and (r.triangle[~m] == -1).all() and np.isinf(r.depth[~m]).all()
    assert set(np.unique(r.triangle[m])) == {0, 1}
    assert r.object_id.dtype == np.int32 and r.triangle.dtype == np.int64
    ndc_at_10 = ((FAR + NEAR) / (FAR - NEAR) * 10 - 2 * FAR * NEAR / (FAR - NEAR)) / 10
    assert np.allclose(r.depth[m], ndc_at_10)
    assert not r.mask(1).any()


def test_the_nearer_object_hides_the_farther_one():
    view, proj = camera()
    far = square(-0.5, -0.5, 0.5, 0.5, z=0.0)
    near = square(0.0, -0.125, 0.25, 0.125, z=5.0)        # at depth 5: twice as big on screen
    r = P.rasterize([far, near], view, proj, W, H)
    # near: x from 31.5 to 51.5, y from 13.5 to 33.5
    assert r.mask(1).sum() == 20 * 20
    assert np.argwhere(r.mask(1)).min(axis=0).tolist() == [14, 32]
    assert r.mask(0).sum() == 40 * 40 - 20 * 20
    assert (r.depth[r.mask(1)] < r.depth[r.mask(0)].min()).all()
    # the order of the meshes does not matter, only the depth
    swapped = P.rasterize([near, far], view, proj, W, H)
    assert np.array_equal(swapped.mask(0), r.mask(1)) and np.array_equal(swapped.mask(1), r.mask(0))


def test_triangles_behind_the_camera_or_flat_on_screen_are_skipped():
    view, proj = camera()
    behind = square(-0.5, -0.5, 0.5, 0.5, z=20.0)
    edge_on = (np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 5.0]]), np.array([[0, 1, 2]]))
    closer_than_near = square(-0.01, -0.01, 0.01, 0.01, z=9.95)
    empty = (np.zeros((0, 3)), np.zeros((0, 3), int))
    r = P.rasterize([behind, edge_on, closer_than_near, empty], view, proj, W, H)
    assert (r.object_id == -1).all()
    assert (P.rasterize([], view, proj, W, H).object_id == -1).all()


def test_squares_partly_off_screen_are_clipped_to_the_image():
    view, proj = camera()
    r = P.rasterize([square(-2.0, -2.0, -0.5, 2.0)], view, proj, W, H)     # x from -48.5 to 11.5
    m = r.mask(0)
    assert m[:, :12].all() and not m[:, 12:].any()
    r = P.rasterize([square(0.5, 0.2, 3.0, 3.0)], view, proj, W, H)         # right and top edges off
    m = r.mask(0)
    assert np.argwhere(m).min(axis=0).tolist() == [0, 52] and np.argwhere(m).max(axis=0).tolist() == [15, 63]


@pytest.mark.parametrize("cells", [1, 3, 6, 12, 30])
def test_many_small_triangles_cover_exactly_what_two_big_ones_do(cells):
    """The batched path (triangles of every bucket size) against the one-by-one path."""
    view, proj = camera()
    xs, ys = np.meshgrid(np.linspace(-0.6, 0.55, cells + 1), np.linspace(-0.45, 0.5, cells + 1))
    verts = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    n = cells + 1
    tris = [t for j in range(cells) for i in range(cells)
            for t in ((j * n + i, j * n + i + 1, (j + 1) * n + i + 1), (j * n + i, (j + 1) * n + i + 1, (j + 1) * n + i))]
    corners = [0, cells, n * n - 1, cells * n]
    big = [(corners[0], corners[1], corners[2]), (corners[0], corners[2], corners[3])]
    small = P.rasterize([(verts, tris)], view, proj, W, H)
    large = P.rasterize([(verts, big)], view, proj, W, H)
    assert small.mask(0).sum() > 1000
    assert np.array_equal(small.mask(0), large.mask(0))
    assert np.allclose(small.depth[small.mask(0)], large.depth[large.mask(0)])
    assert len(np.unique(small.triangle[small.mask(0)])) > 0.75 * 2 * cells * cells   # really the small ones


def test_barycentrics_of_pixels_in_a_screen_triangle():
    tri = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    xy = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [1.0, 1.0], [4.0, 4.0]])
    lam = P.screen_barycentric(tri, xy)
    assert lam.shape == (3, 5)
    assert np.allclose(lam.T, [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.25, 0.25], [-1, 1, 1]])
    assert P.screen_barycentric(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), xy) is None
    batch = P._batch_barycentric(np.stack([tri, np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])]),
                                 np.array([[1.0, 4.0], [1.0, 1.0]]), np.array([[1.0, 4.0], [1.0, 1.0]]))
    assert batch.shape == (3, 2, 2)
    assert np.allclose(batch[:, 0, 0], [0.5, 0.25, 0.25]) and np.allclose(batch[:, 0, 1], [-1, 1, 1])
    assert (batch[:, 1] == -1).all()                       # a flat triangle: outside everywhere


def test_surface_anchors_land_back_on_their_pixels():
    view, proj = camera()
    verts = np.array([[-0.5, -0.5, 0.0], [0.5, -0.5, 1.0], [0.5, 0.5, 2.0], [-0.5, 0.5, 1.0]])   # tilted
    tris = np.array([[0, 1, 2], [0, 2, 3]])
    r = P.rasterize([(verts, tris)], view, proj, W, H)
    pts = np.array([[32.0, 24.0], [20.0, 30.0], [40.0, 15.0]])
    assert all(r.mask(0)[int(y), int(x)] for x, y in pts)
    tri_idx, bary = P.surface_anchors(pts, r, 0, verts, tris, view, proj, W, H)
    assert np.allclose(bary.sum(axis=1), 1.0) and (bary >= -1e-9).all()
    assert tri_idx.tolist() == [r.triangle[int(y), int(x)] for x, y in pts]
    world = P.anchored_points(verts, tris, tri_idx, bary)
    back, _, _, _ = P.project(world, view, proj, W, H)
    assert np.allclose(back, pts, atol=1e-9)
    # the anchors ride along when the mesh moves
    moved = P.anchored_points(verts + [1.0, 2.0, 3.0], tris, tri_idx, bary)
    assert np.allclose(moved, world + [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"^surface_anchors: every point must lie on the object's visible silhouette$"):
        P.surface_anchors(np.array([[1.0, 1.0]]), r, 0, verts, tris, view, proj, W, H)
    # a point just outside the image is looked up at the nearest edge pixel
    edge = P.rasterize([square(-2.0, -2.0, 2.0, 2.0)], view, proj, W, H)
    idx, _ = P.surface_anchors(np.array([[-0.4, 60.0]]), edge, 0, *square(-2.0, -2.0, 2.0, 2.0), view, proj, W, H)
    assert idx.tolist() == [edge.triangle[H - 1, 0]]


def test_points_per_mask_is_eq_10_on_the_silhouette():
    mask = np.zeros((10, 10), bool)
    mask[:5] = True
    assert P.points_per_mask(mask) == sp.point_count.points_per_component(0.5) == 64
    mask[:] = False
    mask[0, :2] = True
    assert P.points_per_mask(mask) == 16
    mask = np.zeros((10, 10), np.uint8)
    mask[:2, :] = 9                                   # any non-zero is inside: 20 %
    assert P.points_per_mask(mask) == sp.point_count.points_per_component(0.2)


def test_sampled_points_lie_on_the_mask_spread_out_and_ordered():
    mask = np.zeros((40, 60), bool)
    mask[5:15, 5:25] = True
    mask[25:35, 35:55] = True
    pts = P.sample_mask_points(mask, k=8, seed=1)
    assert pts.shape == (8, 2)
    assert all(mask[int(y), int(x)] for x, y in pts)
    assert len({tuple(p) for p in pts}) == 8
    assert (pts[:, 0] == np.round(pts[:, 0])).all()              # pixel centres in protocol pixels
    left = (pts[:, 0] < 30).sum()
    assert 2 <= left <= 6                                         # both blobs get points
    order = np.lexsort((pts[:, 0], pts[:, 1]))
    assert (order == np.arange(8)).all()                          # row by row, left to right
    assert np.array_equal(P.sample_mask_points(mask, k=8, seed=1), pts)
    default = P.sample_mask_points(mask)
    assert len(default) == P.points_per_mask(mask)


def test_a_small_mask_gives_its_own_pixels():
    mask = np.zeros((5, 5), bool)
    mask[1, 3] = mask[3, 1] = mask[3, 2] = True
    assert P.sample_mask_points(mask, k=3).tolist() == [[3.0, 1.0], [1.0, 3.0], [2.0, 3.0]]
    assert P.sample_mask_points(mask, k=4).tolist() == [[3.0, 1.0], [1.0, 3.0], [2.0, 3.0]]
    with pytest.raises(ValueError, match=r"^mask is empty: the object is not visible from the camera at the reference frame$"):
        P.sample_mask_points(np.zeros((5, 5), bool))


def test_kmeans_finds_separate_clusters():
    rng = np.random.default_rng(0)
    a = rng.normal([10, 10], 0.5, size=(30, 2))
    b = rng.normal([50, 20], 0.5, size=(30, 2))
    centres = P._kmeans(np.vstack([a, b]), 2, np.random.default_rng(3))
    centres = centres[np.argsort(centres[:, 0])]
    assert np.allclose(centres, [a.mean(axis=0), b.mean(axis=0)], atol=1e-9)
    same = P._kmeans(np.ones((5, 2)), 3, np.random.default_rng(0))   # all points equal: no division by zero
    assert np.allclose(same, 1.0) and same.shape == (3, 2)


def test_output_frames_spread_the_scene_range_or_follow_real_time():
    assert np.allclose(P.output_scene_frames(1, 11, 6), [1, 3, 5, 7, 9, 11])
    assert np.allclose(P.output_scene_frames(3, 3, 1), [3.0]) and np.allclose(P.output_scene_frames(2, 9, 1), [2.0])
    assert np.allclose(P.output_scene_frames(1, 5, 4, scene_fps=24, fps=12), [1, 3, 5, 5])
    assert np.allclose(P.output_scene_frames(1, 50, 3, scene_fps=24, fps=8), [1, 4, 7])
    assert np.allclose(P.output_scene_frames(1, 11, 3, scene_fps=24), [1, 6, 11])     # fps alone: spread
    assert np.allclose(P.output_scene_frames(1, 11, 3, fps=24), [1, 6, 11])
    with pytest.raises(ValueError, match=r"^frames: expected at least 1, got 0$"):
        P.output_scene_frames(1, 5, 0)
    with pytest.raises(ValueError, match=r"^frame range: end 1 is before start 5$"):
        P.output_scene_frames(5, 1, 3)
    assert P.output_scene_frames(4, 4, 3).tolist() == [4.0, 4.0, 4.0]


def test_positions_are_kept_within_the_protocols_margin():
    m = sp.messages.POINT_TRACK_MARGIN
    pos = np.array([[[-1000.0, 5.0], [5.0, -1000.0], [1000.0, 1000.0], [10.0, 20.0]]])
    out = P.clamp_to_margin(pos, 100, 50)
    assert out.tolist() == [[[-m * 100, 5.0], [5.0, -m * 50], [(1 + m) * 100, (1 + m) * 50], [10.0, 20.0]]]
    assert pos[0, 0, 0] == -1000.0                      # the input is left as it was


def test_disc_masks_and_their_one_pixel_minimum():
    d = P.disc_mask((10, 5), 2.0, 20, 12)
    assert d.dtype == bool and d.shape == (12, 20)
    assert d.sum() == 13 and d[5, 10] and d[5, 12] and d[3, 10] and not d[4, 12]
    tiny = P.disc_mask((3.4, 7.6), 0.1, 20, 12)
    assert np.argwhere(tiny).tolist() == [[8, 3]]
    off = P.disc_mask((-5.0, 50.0), 0.5, 20, 12)
    assert np.argwhere(off).tolist() == [[11, 0]]
    assert np.argwhere(P.disc_mask((99.0, -9.0), 0.5, 20, 12)).tolist() == [[0, 19]]
