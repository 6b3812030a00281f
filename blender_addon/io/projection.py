"""3D scene → reference-image pixels, without Blender: the geometry behind scene point tracks.

Everything is numpy on plain arrays, so it is tested without ``bpy`` and runs in background
mode (no GPU context). The bpy layer (``blender/scene_tracks.py``) feeds it Blender's own
matrices: the camera's ``matrix_world`` inverted (view) and ``calc_matrix_camera`` (projection,
which already holds lens, sensor fit, shift and pixel aspect).

Pixels are the protocol's: x right, y down, pixel centres at integers, so the image spans
``-0.5 … width - 0.5``. Rasterisation is a numpy z-buffer over triangles: there is no GPU
context in background mode and OpenCV is not in Blender's Python; a z-buffer also gives, per
pixel, the object and triangle seen, which anchors each sampled point on the mesh surface.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..protocol import sp

KMEANS_ITERATIONS = 30


def _homogeneous(points) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return np.concatenate([pts, np.ones((len(pts), 1))], axis=1)


def project(points_world, view: np.ndarray, projection: np.ndarray, width: int, height: int):
    """World points (N, 3) → (pixels (N, 2), depth (N,) along the view axis, clip w (N,), ndc z (N,)).

    ``depth`` is positive in front of the camera; points with depth <= 0 are behind it (their
    pixels are meaningless, callers treat them as hidden).
    """
    cam = _homogeneous(points_world) @ np.asarray(view, dtype=np.float64).T
    clip = cam @ np.asarray(projection, dtype=np.float64).T
    w = clip[:, 3]
    safe = np.where(np.abs(w) < 1e-12, 1e-12, w)
    ndc = clip[:, :3] / safe[:, None]
    px = np.empty((len(ndc), 2))
    px[:, 0] = (ndc[:, 0] + 1.0) * 0.5 * width - 0.5
    px[:, 1] = (1.0 - ndc[:, 1]) * 0.5 * height - 0.5
    return px, -cam[:, 2], w, ndc[:, 2]


@dataclass
class Raster:
    """What the camera sees at one frame: per pixel the nearest object (-1: none), its triangle
    (index into that object's triangles) and the ndc depth."""

    object_id: np.ndarray     # (H, W) int32
    triangle: np.ndarray      # (H, W) int64
    depth: np.ndarray         # (H, W) float64 ndc z, +inf where empty

    def mask(self, object_id: int) -> np.ndarray:
        """The object's silhouette, occlusion by the other rasterised objects included."""
        return self.object_id == object_id


BUCKETS = (4, 8, 16, 32)      # triangles whose pixel box fits S x S are rasterised S x S at once
CHUNK_PIXELS = 1 << 20        # candidate pixels per vectorised batch (memory bound)


def rasterize(meshes, view, projection, width: int, height: int) -> Raster:
    """Z-buffer the meshes [(vertices_world (V, 3), triangles (T, 3) int), ...] at pixel centres.

    Every triangle yields candidate pixels (its covered pixel centres with their ndc depth);
    small triangles are batched by box size (numpy over thousands at once), the few large ones
    one by one; then one sort keeps the nearest candidate per pixel. Triangles with a vertex
    behind the near plane are skipped (no clipping): fine for objects in front of the camera,
    which is what a shot's subjects and occluders are.
    """
    pixel_parts, depth_parts, object_parts, triangle_parts = [], [], [], []
    for oid, (verts, tris) in enumerate(meshes):
        tris = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
        if not len(tris):
            continue
        px, _, w, z = project(verts, view, projection, width, height)
        corners = px[tris]                                               # (T, 3, 2)
        lo = np.maximum(np.ceil(corners.min(axis=1)), 0).astype(np.int64)
        hi = np.minimum(np.floor(corners.max(axis=1)), (width - 1, height - 1)).astype(np.int64)
        size = hi - lo + 1
        usable = (w[tris] > 0).all(axis=1) & (z[tris] >= -1).all(axis=1) & (size > 0).all(axis=1)
        left = usable.copy()
        batches = []
        for bucket in BUCKETS:
            fits = left & (size <= bucket).all(axis=1)
            left &= ~fits
            index = np.flatnonzero(fits)
            step = max(1, CHUNK_PIXELS // (bucket * bucket))
            batches.extend((bucket, index[i:i + step]) for i in range(0, len(index), step))
        batches.extend((None, np.array([t])) for t in np.flatnonzero(left))
        for bucket, index in batches:
            if bucket is None:
                t = index[0]
                ys, xs = np.mgrid[lo[t, 1]:hi[t, 1] + 1, lo[t, 0]:hi[t, 0] + 1]
                xs, ys = xs.reshape(1, -1), ys.reshape(1, -1)
                inside_box = np.ones(xs.shape, bool)
            else:
                oy, ox = np.divmod(np.arange(bucket * bucket), bucket)
                xs = lo[index, 0:1] + ox[None]
                ys = lo[index, 1:2] + oy[None]
                inside_box = (xs <= hi[index, 0:1]) & (ys <= hi[index, 1:2])
            lam = _batch_barycentric(corners[index], xs.astype(np.float64), ys.astype(np.float64))
            inside = inside_box & (lam >= -1e-9).all(axis=0)
            zt = np.einsum("tk,ktp->tp", z[tris[index]], lam)
            rows, cols = np.nonzero(inside)
            pixel_parts.append(ys[rows, cols] * width + xs[rows, cols])
            depth_parts.append(zt[rows, cols])
            object_parts.append(np.full(len(rows), oid, np.int32))
            triangle_parts.append(index[rows])
    object_id = np.full((height, width), -1, np.int32)
    triangle = np.full((height, width), -1, np.int64)
    depth = np.full((height, width), np.inf)
    if pixel_parts:
        pixels, depths = np.concatenate(pixel_parts), np.concatenate(depth_parts)
        order = np.lexsort((depths, pixels))                      # by pixel, nearest first (stable)
        pixels, first = np.unique(pixels[order], return_index=True)
        keep = order[first]
        object_id.flat[pixels] = np.concatenate(object_parts)[keep]
        triangle.flat[pixels] = np.concatenate(triangle_parts)[keep]
        depth.flat[pixels] = depths[keep]
    return Raster(object_id, triangle, depth)


def _batch_barycentric(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Barycentrics (3, T, P) of pixel centres (x, y) (T, P) in screen triangles ``p`` (T, 3, 2);
    degenerate triangles get -1 (outside)."""
    ax, ay, bx, by, cx, cy = (p[:, i, j][:, None] for i in range(3) for j in range(2))
    det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
    flat = np.abs(det) < 1e-12
    det = np.where(flat, 1.0, det)
    l0 = ((by - cy) * (x - cx) + (cx - bx) * (y - cy)) / det
    l1 = ((cy - ay) * (x - cx) + (ax - cx) * (y - cy)) / det
    lam = np.stack([l0, l1, 1.0 - l0 - l1])
    lam[:, np.broadcast_to(flat, l0.shape)] = -1.0
    return lam


def screen_barycentric(p: np.ndarray, xy: np.ndarray):
    """Barycentrics (3, ...) of pixel positions ``xy`` (..., 2) in the screen triangle ``p`` (3, 2)."""
    (ax, ay), (bx, by), (cx, cy) = p
    det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
    if abs(det) < 1e-12:
        return None
    x, y = xy[..., 0], xy[..., 1]
    l0 = ((by - cy) * (x - cx) + (cx - bx) * (y - cy)) / det
    l1 = ((cy - ay) * (x - cx) + (ax - cx) * (y - cy)) / det
    return np.stack([l0, l1, 1.0 - l0 - l1])


def surface_anchors(points_px, raster: Raster, object_id: int, verts_world, tris, view, projection,
                    width: int, height: int):
    """Per sampled pixel (K, 2) of ``object_id``'s silhouette: (triangle index (K,), barycentric (K, 3)).

    Perspective-correct: screen barycentrics divided by each vertex's clip w, renormalised, so
    the anchor's 3D point projects back onto the pixel exactly.
    """
    pts = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    cols = np.clip(np.rint(pts[:, 0]).astype(int), 0, width - 1)
    rows = np.clip(np.rint(pts[:, 1]).astype(int), 0, height - 1)
    if (raster.object_id[rows, cols] != object_id).any():
        raise ValueError("surface_anchors: every point must lie on the object's visible silhouette")
    tri_idx = raster.triangle[rows, cols]
    tris = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
    px, _, w, _ = project(verts_world, view, projection, width, height)
    bary = np.empty((len(pts), 3))
    for i, (t, xy) in enumerate(zip(tri_idx, pts)):
        corner = tris[t]
        lam = screen_barycentric(px[corner], xy)
        weights = lam / w[corner]
        bary[i] = weights / weights.sum()
    return tri_idx, bary


def anchored_points(verts_world, tris, tri_idx, bary) -> np.ndarray:
    """World positions (K, 3) of barycentric anchors on a (possibly deformed) mesh of the same topology."""
    corners = np.asarray(verts_world, dtype=np.float64)[np.asarray(tris, dtype=np.int64)[tri_idx]]   # (K, 3, 3)
    return np.einsum("kj,kjc->kc", bary, corners)


def points_per_mask(mask: np.ndarray) -> int:
    """Eq. 10's K for a silhouette, exactly as the server counts a painted mask."""
    return sp.point_count.points_per_component(float(np.asarray(mask, bool).mean()))


def sample_mask_points(mask: np.ndarray, k: int | None = None, seed: int = 0) -> np.ndarray:
    """K pixel centres (K, 2) standing for ``mask`` (Eq. 10 + K-means over 3K random pixels).

    The server does this with cv2.kmeans; OpenCV is not in Blender's Python, so this is
    k-means++ and Lloyd's iterations in numpy. Each centre snaps to the nearest mask pixel, so
    every point lies on the object. A mask with at most K pixels gives its pixels themselves.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("mask is empty: the object is not visible from the camera at the reference frame")
    k = points_per_mask(mask) if k is None else int(k)
    rows, cols = np.nonzero(mask)
    pixels = np.stack([cols, rows], axis=1).astype(np.float64)
    if len(pixels) <= k:
        chosen = pixels
    else:
        rng = np.random.default_rng(seed)
        candidates = pixels[rng.choice(len(pixels), size=min(3 * k, len(pixels)), replace=False)]
        centres = _kmeans(candidates, k, rng)
        # snap to the nearest candidate (a mask pixel), each used once at most
        d = ((centres[:, None, :] - candidates[None]) ** 2).sum(-1)
        chosen = np.empty_like(centres)
        taken = np.zeros(len(candidates), bool)
        for i in np.argsort(d.min(axis=1)):
            row = np.where(taken, np.inf, d[i])
            j = int(np.argmin(row))
            taken[j] = True
            chosen[i] = candidates[j]
    order = np.lexsort((chosen[:, 0], chosen[:, 1]))
    return chosen[order]


def _kmeans(data: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [data[rng.integers(len(data))]]
    for _ in range(1, k):                                    # k-means++ seeding
        d = np.min(((data[:, None] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        total = d.sum()
        centres.append(data[rng.choice(len(data), p=d / total)] if total > 0 else data[rng.integers(len(data))])
    centres = np.asarray(centres)
    for _ in range(KMEANS_ITERATIONS):
        labels = np.argmin(((data[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        moved = np.array([data[labels == j].mean(axis=0) if (labels == j).any() else centres[j] for j in range(k)])
        if np.allclose(moved, centres):
            break
        centres = moved
    return centres


def output_scene_frames(frame_start: float, frame_end: float, frames: int, scene_fps: float | None = None,
                        fps: float | None = None) -> np.ndarray:
    """The scene frame (fractional) each of the job's ``frames`` output frames shows.

    Default: the scene range is spread over the output frames (first to first, last to last),
    so the whole blocked move fits the clip. With ``scene_fps`` and ``fps``: real time — output
    frame i is ``i / fps`` seconds after ``frame_start``, held at ``frame_end``.
    """
    frames = int(frames)
    if frames < 1:
        raise ValueError(f"frames: expected at least 1, got {frames}")
    if frame_end < frame_start:
        raise ValueError(f"frame range: end {frame_end} is before start {frame_start}")
    if scene_fps is None or fps is None:
        if frames == 1:
            return np.array([float(frame_start)])
        return np.linspace(float(frame_start), float(frame_end), frames)
    times = frame_start + np.arange(frames) * (float(scene_fps) / float(fps))
    return np.minimum(times, float(frame_end))


def clamp_to_margin(positions: np.ndarray, width: int, height: int) -> np.ndarray:
    """Keep positions inside the protocol's margin around the image (off-screen stays off-screen)."""
    m = sp.messages.POINT_TRACK_MARGIN
    out = np.asarray(positions, dtype=np.float64).copy()
    out[..., 0] = np.clip(out[..., 0], -m * width, (1 + m) * width)
    out[..., 1] = np.clip(out[..., 1], -m * height, (1 + m) * height)
    return out


def disc_mask(centre, radius: float, width: int, height: int) -> np.ndarray:
    """A filled disc (an empty's or a bone's stand-in mask) around ``centre``; at least one pixel."""
    ys, xs = np.mgrid[0:height, 0:width]
    cx, cy = float(centre[0]), float(centre[1])
    mask = (xs - cx) ** 2 + (ys - cy) ** 2 <= radius * radius
    if not mask.any():
        mask[int(np.clip(round(cy), 0, height - 1)), int(np.clip(round(cx), 0, width - 1))] = True
    return mask
