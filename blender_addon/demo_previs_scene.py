"""Building blocks of a blocked (previs) scene from Python: boxes, a camera, linear keys.

Used by ``demo_previs`` and by the scene-track tests, so both build scenes the same way.
Data API only (no operators), so it runs headless in every supported Blender line.
"""
from __future__ import annotations

import math

import bpy


def box(name: str, size=(2.0, 2.0, 2.0), location=(0.0, 0.0, 0.0), collection=None):
    """An axis-aligned box mesh object centred on its origin."""
    sx, sy, sz = (s / 2 for s in size)
    verts = [(x, y, z) for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    ob = bpy.data.objects.new(name, mesh)
    ob.location = location
    (collection or bpy.context.scene.collection).objects.link(ob)
    return ob


def grid(name: str, columns: int, rows: int, size=(2.0, 2.0), location=(0.0, 0.0, 0.0)):
    """A vertical grid (in the XZ plane, facing -Y) of columns x rows quads."""
    verts = [(-size[0] / 2 + size[0] * i / columns, 0.0, -size[1] / 2 + size[1] * j / rows)
             for j in range(rows + 1) for i in range(columns + 1)]
    faces = [(j * (columns + 1) + i, j * (columns + 1) + i + 1, (j + 1) * (columns + 1) + i + 1,
              (j + 1) * (columns + 1) + i) for j in range(rows) for i in range(columns)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    ob = bpy.data.objects.new(name, mesh)
    ob.location = location
    bpy.context.scene.collection.objects.link(ob)
    return ob


def camera(name: str = "Camera", location=(0.0, -10.0, 0.0), rotation=(math.pi / 2, 0.0, 0.0), lens: float = 50.0,
           sensor_width: float = 36.0):
    """A perspective camera (default: at y = -10 looking along +Y), made the scene's camera."""
    data = bpy.data.cameras.new(name)
    data.lens = lens
    data.sensor_width = sensor_width
    data.sensor_fit = "AUTO"
    ob = bpy.data.objects.new(name, data)
    ob.location = location
    ob.rotation_euler = rotation
    bpy.context.scene.collection.objects.link(ob)
    bpy.context.scene.camera = ob
    return ob


def fcurves(id_data) -> list:
    """The F-curves of an ID's action: ``action.fcurves`` up to 4.5, layered channelbags from 5.0."""
    action = id_data.animation_data.action if id_data.animation_data else None
    if action is None:
        return []
    if hasattr(action, "fcurves"):
        return list(action.fcurves)
    return [fc for layer in action.layers for strip in layer.strips for bag in strip.channelbags
            for fc in bag.fcurves]


def linear_keys(target, path: str, keys: dict) -> None:
    """Keyframe ``target.path`` at {frame: value} with linear interpolation (every Blender line)."""
    for frame, value in keys.items():
        setattr(target, path, value)
        target.keyframe_insert(path, frame=frame)
    owner = target.id_data
    prefix = target.path_from_id(path) if target is not owner else path
    for fc in fcurves(owner):
        if fc.data_path == prefix:
            for key in fc.keyframe_points:
                key.interpolation = "LINEAR"
            fc.update()


def set_render_size(scene, width: int, height: int) -> None:
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
