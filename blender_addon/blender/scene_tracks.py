"""Explicit point tracks from the 3D scene's own animation (protocol 1.1), in background mode too.

For each picked object, at the reference frame (the first output frame):

* its mask is its silhouette seen from the camera, occluded by the other visible meshes — a
  numpy z-buffer (``io.projection.rasterize``): no GPU context is needed, and the z-buffer also
  says which triangle each pixel shows;
* K points (Eq. 10 + K-means, as the server does for painted masks) are sampled in it and
  anchored barycentrically on the evaluated mesh's triangles, so armature, shape keys and
  modifiers that keep the topology are followed;
* each anchor is re-evaluated and projected through the (possibly animated) camera at every
  output frame; visibility comes from Blender's own BVH (``Scene.ray_cast``): hidden behind
  another object, or behind the camera.

Empties and bones stand for one point (mask: a small disc around it). bpy runs on the main
thread only; the arithmetic is in ``io.projection``.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..io import projection

POINT_DISC_SHARE = 0.03      # an empty's / a bone's mask: a disc of 3 % of the shorter side
RAY_EPS = 1e-4               # relative: a hit closer than (1 - eps) of the way hides the point
MESH_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT"}


class SceneTrackError(ValueError):
    """A scene track cannot be built; the message names the object and what was expected."""


@dataclass
class SceneTrack:
    """One object's track: mask (H, W) bool at the reference frame, positions (K, L, 2) px, visible (K, L)."""

    name: str
    mask: np.ndarray
    points: np.ndarray
    visible: np.ndarray


@dataclass(frozen=True)
class Source:
    """What moves: an object (mesh-like or empty), or one bone of an armature object."""

    obj: object
    bone: str | None = None

    @property
    def label(self) -> str:
        return f"{self.obj.name}:{self.bone}" if self.bone else self.obj.name


def render_size(scene) -> tuple[int, int]:
    """The camera's image size in pixels (resolution × percentage)."""
    r = scene.render
    pct = r.resolution_percentage / 100.0
    return max(1, round(r.resolution_x * pct)), max(1, round(r.resolution_y * pct))


def camera_matrices(scene, camera, depsgraph, width: int, height: int):
    """(view, projection) 4x4 numpy matrices of the evaluated camera (Blender's own lens maths)."""
    cam = camera.evaluated_get(depsgraph)
    view = np.array(cam.matrix_world.inverted())
    proj = np.array(cam.calc_matrix_camera(depsgraph, x=width, y=height, scale_x=scene.render.pixel_aspect_x,
                                           scale_y=scene.render.pixel_aspect_y))
    return view, proj


def evaluated_mesh(obj, depsgraph):
    """(world vertices (V, 3), triangles (T, 3)) of the object as evaluated (modifiers, armature, keys)."""
    ob = obj.evaluated_get(depsgraph)
    mesh = ob.to_mesh()
    try:
        mesh.calc_loop_triangles()
        verts = np.empty(len(mesh.vertices) * 3, np.float64)
        mesh.vertices.foreach_get("co", verts)
        tris = np.empty(len(mesh.loop_triangles) * 3, np.int64)
        mesh.loop_triangles.foreach_get("vertices", tris)
    finally:
        ob.to_mesh_clear()
    matrix = np.array(ob.matrix_world)
    verts = verts.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]
    return verts, tris.reshape(-1, 3)


def _point_world(source: Source, depsgraph) -> np.ndarray:
    ob = source.obj.evaluated_get(depsgraph)
    if source.bone:
        pose_bone = ob.pose.bones.get(source.bone) if ob.pose else None
        if pose_bone is None:
            raise SceneTrackError(f"{source.label}: no such bone in armature {ob.name!r}")
        return np.array(ob.matrix_world @ pose_bone.head)
    return np.array(ob.matrix_world.translation)


def _set_frame(scene, frame: float) -> None:
    whole = int(np.floor(frame))
    scene.frame_set(whole, subframe=float(frame - whole))


def _occluders(scene, picked) -> list:
    names = {s.obj.name for s in picked}
    return [ob for ob in scene.objects
            if ob.type in MESH_TYPES and ob.name not in names and ob.visible_get() and not ob.hide_render]


def _visible(scene, depsgraph, camera, points_world: np.ndarray, depth: np.ndarray, ortho: bool) -> np.ndarray:
    """Per point: in front of the camera and not hidden behind anything (Blender's BVH ray casts)."""
    from mathutils import Vector

    cam = camera.evaluated_get(depsgraph).matrix_world
    origin_cam = np.array(cam.translation)
    forward = -np.array(cam.col[2][:3])
    forward /= np.linalg.norm(forward)
    out = np.zeros(len(points_world), bool)
    for i, p in enumerate(points_world):
        if depth[i] <= 0:
            continue
        origin = p - forward * depth[i] if ortho else origin_cam
        ray = p - origin
        dist = float(np.linalg.norm(ray))
        if dist < 1e-9:
            continue
        hit = scene.ray_cast(depsgraph, Vector(origin), Vector(ray / dist), distance=dist * (1 - RAY_EPS) - RAY_EPS)
        out[i] = not hit[0]
    return out


def scene_tracks(scene, sources, camera, frames: int, width: int | None = None, height: int | None = None,
                 seed: int = 0, fps: float | None = None, frame_range: tuple | None = None) -> list[SceneTrack]:
    """Point tracks for ``sources`` (objects, or ``Source`` for bones) seen by ``camera``.

    ``frames``: the job's frame count; ``fps``: the job's fps for real-time sampling of the
    scene (None: the scene range is spread over the frames); ``frame_range``: (start, end),
    default the scene's. Width/height default to the render size. The scene's current frame is
    restored afterwards.
    """
    if camera is None or camera.type != "CAMERA":
        raise SceneTrackError(f"camera: expected a camera object, got {getattr(camera, 'name', camera)!r}")
    sources = [s if isinstance(s, Source) else Source(s) for s in sources]
    if not sources:
        raise SceneTrackError("objects: pick at least one object (or a collection) to take motion from")
    width, height = (width, height) if width and height else render_size(scene)
    start, end = frame_range or (scene.frame_start, scene.frame_end)
    scene_fps = scene.render.fps / scene.render.fps_base
    times = projection.output_scene_frames(start, end, frames, scene_fps if fps else None, fps)
    ortho = camera.data.type == "ORTHO"
    saved = (scene.frame_current, scene.frame_subframe)
    try:
        return _tracks(scene, sources, camera, times, width, height, seed, ortho)
    finally:
        scene.frame_set(saved[0], subframe=saved[1])


def _tracks(scene, sources, camera, times, width, height, seed, ortho) -> list[SceneTrack]:
    _set_frame(scene, times[0])
    depsgraph = bpy.context.evaluated_depsgraph_get()
    view, proj = camera_matrices(scene, camera, depsgraph, width, height)
    meshes = [s for s in sources if s.bone is None and s.obj.type in MESH_TYPES]
    geometry = [evaluated_mesh(s.obj, depsgraph) for s in meshes]
    occluders = [evaluated_mesh(ob, depsgraph) for ob in _occluders(scene, sources)]
    raster = projection.rasterize(geometry + occluders, view, proj, width, height)

    plans = []          # per source: (mask, how to get world points at a frame)
    for index, source in enumerate(sources):
        if source in meshes:
            m = meshes.index(source)
            mask = raster.mask(m)
            if not mask.any():
                raise SceneTrackError(f"{source.label}: not visible from camera {camera.name!r} at frame "
                                      f"{times[0]:g} (outside the view or hidden behind another object)")
            px = projection.sample_mask_points(mask, None, seed + index)
            verts, tris = geometry[m]
            tri_idx, bary = projection.surface_anchors(px, raster, m, verts, tris, view, proj, width, height)
            plans.append((mask, ("mesh", tris, tri_idx, bary)))
        elif source.bone or source.obj.type == "EMPTY" or source.obj.type == "ARMATURE":
            p, depth = projection.project(_point_world(source, depsgraph), view, proj, width, height)[:2]
            if depth[0] <= 0:
                raise SceneTrackError(f"{source.label}: behind camera {camera.name!r} at frame {times[0]:g}")
            mask = projection.disc_mask(p[0], POINT_DISC_SHARE * min(width, height), width, height)
            plans.append((mask, ("point",)))
        else:
            raise SceneTrackError(f"{source.label}: expected a mesh-like object, an empty or a bone, "
                                  f"got a {source.obj.type.lower()}")

    positions = [[] for _ in sources]
    visible = [[] for _ in sources]
    for t in times:
        _set_frame(scene, t)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        view, proj = camera_matrices(scene, camera, depsgraph, width, height)
        for index, (source, (_, how)) in enumerate(zip(sources, plans)):
            if how[0] == "mesh":
                verts, tris_now = evaluated_mesh(source.obj, depsgraph)
                if tris_now.shape != how[1].shape:
                    raise SceneTrackError(f"{source.label}: its mesh changes topology during the shot "
                                          f"(frame {t:g}); points cannot follow it")
                world = projection.anchored_points(verts, how[1], how[2], how[3])
            else:
                world = _point_world(source, depsgraph)[None]
            px, depth = projection.project(world, view, proj, width, height)[:2]
            px[depth <= 0] = np.nan                 # behind the camera: no meaningful pixel
            positions[index].append(px)
            visible[index].append(_visible(scene, depsgraph, camera, world, depth, ortho))

    tracks = []
    for source, (mask, _), pos, vis in zip(sources, plans, positions, visible):
        pos = np.stack(pos, axis=1)                 # (K, L, 2)
        vis = np.stack(vis, axis=1)                 # (K, L)
        # behind the camera: hold the last position seen in front (the point is hidden anyway)
        for i in range(1, pos.shape[1]):
            gone = ~np.isfinite(pos[:, i]).all(axis=1)
            pos[gone, i] = pos[gone, i - 1]
        tracks.append(SceneTrack(source.label, mask, projection.clamp_to_margin(pos, width, height)
                                 .astype(np.float32), vis))
    return tracks


def collection_sources(collection) -> list[Source]:
    """Every mesh-like object or empty of a collection (and its children), as sources."""
    return [Source(ob) for ob in collection.all_objects if ob.type in MESH_TYPES or ob.type == "EMPTY"]
