"""Exact edges of the scene geometry (``blender_addon.io.projection``), Blender-free: the cases the
mutation run (issue 15, module addon_io_scene) showed the broader tests in test_projection.py let
through — points near the camera, meshes mixing kept and skipped triangles, the image edges of a
look-up, small-triangle batching, and that sampled points never repeat."""
from __future__ import annotations

import warnings

import numpy as np

import shared_protocol as sp
from blender_addon.io import projection as P
from tests.addon_io.test_projection import H, W, camera, square


def test_points_near_the_camera_project_exactly_and_the_camera_plane_stays_off_screen():
    view, proj = camera()
    px, depth, _, _ = P.project([[0.01, -0.005, 9.5]], view, proj, W, H)      # depth 0.5: w below 1
    assert depth[0] == 0.5 and np.allclose(px, [[W / 2 - 0.5 + 8, H / 2 - 0.5 + 4]])
    on_plane, _, w0, _ = P.project([[0.01, 0.0, 10.0]], view, proj, W, H)
    assert w0[0] == 0 and abs(on_plane[0, 0]) > 1e6                          # at infinity, not in the image


def _one_mesh(*parts):
    verts, tris = [], []
    for v, t in parts:
        tris.append(np.asarray(t) + sum(len(x) for x in verts))
        verts.append(v)
    return np.concatenate(verts), np.concatenate(tris)


def test_a_skipped_triangle_does_not_hide_the_rest_of_its_mesh():
    view, proj = camera()
    front = square(-0.5, -0.5, 0.5, 0.5)
    for skipped in (square(-0.5, -0.5, 0.5, 0.5, z=20.0),            # behind the camera
                    square(-0.01, -0.01, 0.01, 0.01, z=9.95),        # between the camera and the near plane
                    square(3.0, 3.0, 4.0, 4.0)):                     # off the image
        r = P.rasterize([_one_mesh(front, skipped)], view, proj, W, H)
        assert r.mask(0).sum() == 40 * 40 and set(np.unique(r.triangle[r.mask(0)])) == {0, 1}


def test_an_empty_mesh_does_not_stop_the_meshes_after_it():
    view, proj = camera()
    empty = (np.zeros((0, 3)), np.zeros((0, 3), int))
    r = P.rasterize([empty, square(-0.5, -0.5, 0.5, 0.5)], view, proj, W, H)
    assert not r.mask(0).any() and r.mask(1).sum() == 40 * 40


def test_the_near_plane_decides_what_close_triangles_are_drawn():
    view, proj = camera()
    inside = P.rasterize([square(-0.01, -0.01, 0.01, 0.01, z=9.5)], view, proj, W, H)   # depth 0.5: drawn
    assert inside.mask(0).sum() == 16 * 16
    # depth 0.08 is nearer than the near plane (0.1): its ndc z is -1.5, skipped
    assert not P.rasterize([square(-0.001, -0.001, 0.001, 0.001, z=9.92)], view, proj, W, H).mask(0).any()


def test_a_large_triangle_low_in_the_image_covers_its_full_width():
    view, proj = camera()
    # x from 3.5 to 39.5 and y from 25.5 to 43.5 pixels: larger than every bucket, drawn one by one
    r = P.rasterize([square(-0.7, -0.5, 0.2, -0.05)], view, proj, W, H)
    m = r.mask(0)
    assert m.sum() == 36 * 18
    assert np.argwhere(m).min(axis=0).tolist() == [26, 4] and np.argwhere(m).max(axis=0).tolist() == [43, 39]


def test_small_triangles_are_batched_by_their_pixel_box(monkeypatch):
    """Triangles are rasterised together per box size (4, 8, 16, 32 px), not one call each."""
    view, proj = camera()
    calls = []
    real = P._batch_barycentric
    monkeypatch.setattr(P, "_batch_barycentric", lambda p, x, y: calls.append(x.shape) or real(p, x, y))
    four = square(-0.0475, -0.0475, 0.0475, 0.0475)           # pixel centres 30..33 x 22..25: exactly 4 x 4
    twenty = square(-0.7, -0.5, -0.2475, -0.0475)             # 18 x 18 pixel centres
    r = P.rasterize([_one_mesh(four, twenty)], view, proj, W, H)
    assert calls == [(2, 4 * 4), (2, 32 * 32)]
    assert r.mask(0).sum() == 4 * 4 + 18 * 18


def test_a_triangle_smaller_than_a_pixel_still_covers_the_centre_inside_it():
    tiny = np.array([[-0.3, -0.3], [0.5, -0.3], [-0.3, 0.5]])            # twice its area: 0.64 px²
    lam = P.screen_barycentric(tiny, np.array([0.0, 0.0]))
    assert lam is not None and np.allclose(lam, [0.25, 0.375, 0.375])
    batch = P._batch_barycentric(tiny[None], np.array([[0.0]]), np.array([[0.0]]))
    assert np.allclose(batch[:, 0, 0], [0.25, 0.375, 0.375])


def test_a_flat_triangle_is_outside_without_numpy_warnings():
    flat = np.array([[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lam = P._batch_barycentric(flat, np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]))
    assert (lam == -1).all()


def test_anchors_look_up_the_nearest_pixel_at_every_image_edge():
    view, proj = camera()
    verts, tris = square(-2.0, -2.0, 2.0, 2.0)
    rows, cols = np.mgrid[0:H, 0:W]
    raster = P.Raster(np.zeros((H, W), np.int32), ((rows + cols) % 2).astype(np.int64), np.zeros((H, W)))
    pts = np.array([[-0.6, 10], [0.0, 11], [63.6, 12], [63.0, 13], [10, -0.6], [11, 0.0], [12, 47.6], [13, 47.0]])
    looked_up = [(10, 0), (11, 0), (12, 63), (13, 63), (0, 10), (0, 11), (47, 12), (47, 13)]
    tri_idx, _ = P.surface_anchors(pts, raster, 0, verts, tris, view, proj, W, H)
    assert tri_idx.tolist() == [(r + c) % 2 for r, c in looked_up]


def test_k_means_runs_on_3k_distinct_mask_pixels(monkeypatch):
    mask = np.zeros((8, 8), bool)
    mask[1:6, 1:9] = True                                                 # 40 pixels
    seen = []
    real = P._kmeans
    monkeypatch.setattr(P, "_kmeans", lambda data, k, rng: seen.append(data.copy()) or real(data, k, rng))
    pts = P.sample_mask_points(mask, k=10, seed=4)
    data = seen[0]
    assert data.shape == (30, 2) and len({tuple(p) for p in data}) == 30
    assert all(mask[int(y), int(x)] for x, y in data)
    assert len({tuple(p) for p in pts}) == 10


def test_two_centres_nearest_the_same_pixel_snap_to_different_pixels(monkeypatch):
    mask = np.zeros((10, 10), bool)
    mask[2:8, 2:8] = True
    monkeypatch.setattr(P, "_kmeans", lambda data, k, rng: np.array([[4.0, 4.0], [4.0, 4.0], [7.0, 7.0]]))
    pts = P.sample_mask_points(mask, k=3, seed=0)
    assert len({tuple(p) for p in pts}) == 3 and all(mask[int(y), int(x)] for x, y in pts)


def test_k_means_plus_plus_seeds_never_repeat_a_point(monkeypatch):
    """With no Lloyd iterations _kmeans returns its k-means++ seeds: k distinct points of k, at any scale."""
    monkeypatch.setattr(P, "KMEANS_ITERATIONS", 0)
    for data in (np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [0.1, 0.1]]),
                 np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0], [4.0, 3.0]])):
        for seed in range(20):
            seeds = P._kmeans(data, 4, np.random.default_rng(seed))
            assert len({tuple(c) for c in seeds}) == 4, (data.tolist(), seed)


def test_two_output_frames_are_the_first_and_last_scene_frame():
    assert P.output_scene_frames(1, 11, 2).tolist() == [1.0, 11.0]


def test_integer_positions_are_clamped_exactly():
    m = sp.messages.POINT_TRACK_MARGIN
    out = P.clamp_to_margin(np.array([[[-1000, 5], [1000, -1000]]]), 101, 51)
    assert out.dtype == np.float64
    assert out.tolist() == [[[-m * 101, 5.0], [(1 + m) * 101, -m * 51]]]
