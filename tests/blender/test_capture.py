"""The bpy layer: Mask datablocks, painted masks, annotation and Grease Pencil arrows,
registration, sequencer frame grab, manual pairing override."""
from __future__ import annotations

import math

import numpy as np
import pytest

from .conftest import (ARROW_BALL, ARROW_BOX, CIRCLE, SQUARE, H, W, add_mask_layer,  # noqa: F401
                       arrows_as_annotation, arrows_as_gp_object, build_scene, circle_points, make_reference,
                       square_points)


def test_mask_layers_rasterise_at_the_reference_resolution(addon):
    bpy = addon
    from blender_addon.blender import capture

    mask = bpy.data.masks.new("M")
    ball = add_mask_layer(mask, "Ball", circle_points(*CIRCLE), W, H)
    box = add_mask_layer(mask, "Box", square_points(*SQUARE), W, H)
    a = capture.rasterize_mask_layer(ball, W, H)
    assert a.shape == (H, W) and a.dtype == np.uint8
    ys, xs = np.mgrid[0:H, 0:W] + 0.5
    d = np.hypot(xs - CIRCLE[0], ys - CIRCLE[1])
    assert (a[d < CIRCLE[2] - 0.6] == 255).all() and (a[d > CIRCLE[2] + 0.6] == 0).all()
    assert abs((a > 127).sum() - math.pi * CIRCLE[2] ** 2) < 0.01 * math.pi * CIRCLE[2] ** 2
    b = capture.rasterize_mask_layer(box, W, H)
    x0, y0, x1, y1 = map(int, SQUARE)
    assert (b[y0:y1, x0:x1] == 255).all() and (b > 0).sum() == (x1 - x0) * (y1 - y0)
    # Same layer at another resolution scales with it (mask space is resolution-free).
    b2 = capture.rasterize_mask_layer(box, 2 * W, 2 * H)
    assert (b2 > 0).sum() == 4 * (x1 - x0) * (y1 - y0)
    # Feather weights and inverted layers are honoured.
    ball_f = add_mask_layer(mask, "Soft", circle_points(*CIRCLE, feather_px=6.0), W, H)
    soft = capture.rasterize_mask_layer(ball_f, W, H)
    ring = (d > CIRCLE[2] + 1) & (d < CIRCLE[2] + 5)
    assert ((soft[ring] > 0) & (soft[ring] < 255)).all()
    ball.invert = True
    assert capture.rasterize_mask_layer(ball, W, H)[int(CIRCLE[1]), int(CIRCLE[0])] == 0


def test_painted_mask_image_white_is_inside(addon):
    bpy = addon
    from blender_addon.blender import capture

    img = bpy.data.images.new("Paint", W // 2, H // 2)
    px = np.zeros((H // 2, W // 2, 4), np.float32)
    px[..., 3] = 1
    px[5:15, 20:40, :3] = 1.0           # rows from the top
    img.pixels.foreach_set(px[::-1].ravel())
    m = capture.painted_mask(img, W, H)  # resized to the reference
    assert m.shape == (H, W)
    assert (m[10:30, 40:80] == 255).all() and (m > 0).sum() == 20 * 40


def test_annotation_points_map_to_reference_pixels(addon):
    bpy = addon
    from blender_addon.blender import capture

    # The seam used on every version: a stroke's 0–1 points (y up) → pixels, tail first, curve kept.
    pts = [(x / W, 1 - y / H, 0.0) for x, y in ARROW_BALL]
    arrow = capture.arrow_from_points(pts, W, H)
    assert np.allclose(arrow, ARROW_BALL)
    with pytest.raises(capture.CaptureError, match="at least 2 points"):
        capture.arrow_from_points(pts[:1], W, H)
    long = capture.arrow_from_points([(i / 1000, 0.5) for i in range(1000)], W, H)
    assert len(long) == capture.MAX_ARROW_POINTS and long[0][0] == 0 and long[-1][0] == pytest.approx(W * 0.999)
    if bpy.app.version < (4, 3, 0):  # real annotation strokes can be made from Python only in 4.2
        annot = arrows_as_annotation(bpy, [ARROW_BALL, ARROW_BOX])
        got = capture.annotation_arrows(annot, W, H)
        assert [a.label for a in got] == ["Note stroke 1", "Note stroke 2"]
        assert all(a.key.startswith("annotation:Note#") for a in got)
        assert np.allclose(got[0].points, ARROW_BALL) and np.allclose(got[1].points, ARROW_BOX)


def test_grease_pencil_strokes_are_projected_through_the_camera(addon):
    bpy = addon
    from blender_addon.blender import capture

    scene = bpy.context.scene
    obj = arrows_as_gp_object(bpy, scene, [ARROW_BALL, ARROW_BOX])
    got = capture.camera_arrows(obj, scene, W, H)
    assert len(got) == 2 and got[0].key.startswith("object:Arrows:")
    assert np.allclose(got[0].points, ARROW_BALL, atol=1e-3)
    assert np.allclose(got[1].points, ARROW_BOX, atol=1e-3)
    # Moving the object moves the arrows (world space, not local).
    obj.location.x = 0.5  # half a frame width / 2 → +64 px
    bpy.context.view_layer.update()
    moved = capture.camera_arrows(obj, scene, W, H)
    assert np.allclose(moved[0].points - got[0].points, [[64.0, 0.0]] * 3, atol=1e-3)
    # A camera frame of another shape than the reference would stretch the arrows: refused.
    scene.render.resolution_x = 2 * W
    with pytest.raises(capture.CaptureError, match=r"camera frame is 512x128.*reference is 256x128"):
        capture.camera_arrows(obj, scene, W, H)
    scene.render.resolution_x = W
    # Strokes behind the camera are not seen through it: refused, naming the stroke.
    obj.location.z = 20.0  # the camera sits at z = 10 looking down
    bpy.context.view_layer.update()
    with pytest.raises(capture.CaptureError, match=r"stroke Arrows:0 .*behind the camera"):
        capture.camera_arrows(obj, scene, W, H)
    scene.camera = None
    with pytest.raises(capture.CaptureError, match="active scene camera"):
        capture.camera_arrows(obj, scene, W, H)


def test_auto_pair_and_manual_override(build_scene):
    import bpy

    build_scene()
    st = bpy.context.scene.trackgo
    assert bpy.ops.trackgo.auto_pair() == {"FINISHED"}
    assert [t.name for t in st.tracks] == ["Ball", "Box"]
    ball_arrow, box_arrow = st.tracks["Ball"].arrow, st.tracks["Box"].arrow
    assert [st.arrows[t.arrow].label for t in st.tracks] == ["Arrows stroke 1", "Arrows stroke 2"] \
        if bpy.app.version >= (4, 3, 0) else ["Note stroke 1", "Note stroke 2"]
    assert len(st.masks) == 2 and len(st.arrows) == 2
    # The user swaps the arrows by hand and marks the pairing manual: auto-pair keeps it.
    st.tracks["Ball"].arrow, st.tracks["Ball"].manual = box_arrow, True
    bpy.ops.trackgo.auto_pair()
    # Box's own arrow is taken and Ball's arrow starts far outside Box: Box stays unpaired.
    assert st.tracks["Ball"].arrow == box_arrow and st.tracks["Box"].arrow == ""
    # A hand-made painted-mask track survives auto-pairing, with its settings.
    bpy.ops.trackgo.track_add()
    painted = st.tracks[len(st.tracks) - 1]
    painted.mask_image = bpy.data.images.new("Paint", 8, 8)
    painted.arrow, painted.easing = ball_arrow, "ease-out"
    bpy.ops.trackgo.auto_pair()
    assert [t.name for t in st.tracks] == ["Ball", "Box", "Track 3"]
    kept = st.tracks["Track 3"]
    assert kept.mask_image.name == "Paint" and kept.arrow == ball_arrow and kept.easing == "ease-out"
    assert st.tracks["Box"].arrow == ""  # ball_arrow is taken by the manual track
    # A second hand-made track on the same mask layer (one part, two paths) survives too.
    bpy.ops.trackgo.track_add()
    twin = st.tracks[len(st.tracks) - 1]
    twin.name, twin.mask_layer, twin.arrow = "Ball again", "Ball", ball_arrow
    bpy.ops.trackgo.auto_pair()
    assert [t.name for t in st.tracks] == ["Ball", "Box", "Track 3", "Ball again"]
    assert st.tracks["Ball again"].mask_layer == "Ball" and st.tracks["Ball"].arrow == box_arrow


def test_grab_sequencer_frame_makes_the_reference(addon, tmp_path):
    bpy = addon
    from blender_addon.blender import compat

    scene = bpy.context.scene
    src = make_reference(bpy, name="Plate")
    src.filepath_raw = str(tmp_path / "plate.png")
    src.file_format = "PNG"
    src.save()
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = W, H, 100
    se = scene.sequence_editor_create()
    compat.strips(se).new_image(name="Plate", filepath=str(tmp_path / "plate.png"), channel=1, frame_start=1)
    scene.frame_current = 1
    assert bpy.ops.trackgo.grab_sequencer_frame() == {"FINISHED"}
    ref = scene.trackgo.reference
    assert ref is not None and tuple(ref.size) == (W, H) and ref.packed_file is not None
    from blender_addon.blender import capture
    got = capture.reference_rgb(ref).astype(int)
    want = capture.reference_rgb(bpy.data.images.load(str(tmp_path / "plate.png"))).astype(int)
    assert np.abs(got - want).max() <= 2
    # A scene set to render video (5.0: media type VIDEO, where "PNG" is no valid file format)
    # grabs all the same, and its output settings come back as they were.
    ims = scene.render.image_settings
    if hasattr(ims, "media_type"):
        ims.media_type = "VIDEO"
    ims.file_format = "FFMPEG"
    assert bpy.ops.trackgo.grab_sequencer_frame() == {"FINISHED"}
    assert ims.file_format == "FFMPEG" and getattr(ims, "media_type", "VIDEO") == "VIDEO"


def test_register_unregister_reload_leave_blender_clean(addon):
    bpy = addon
    import blender_addon

    ops_before = set(dir(bpy.ops.trackgo))
    assert "generate" in ops_before and hasattr(bpy.types.Scene, "trackgo")
    blender_addon.unregister()
    assert not hasattr(bpy.types.Scene, "trackgo")
    assert not hasattr(bpy.types, "TRACKGO_PT_server_image")
    assert not any("trackgo" in getattr(h, "__module__", "") for h in bpy.app.handlers.load_pre)
    assert not any("trackgo" in getattr(h, "__module__", "") for h in bpy.app.handlers.load_post)
    blender_addon.register()  # enable again
    assert set(dir(bpy.ops.trackgo)) == ops_before and hasattr(bpy.types, "TRACKGO_PT_server_image")
    # "Reload Scripts": Blender disables, re-executes the package and enables it again.
    import importlib
    old_session = __import__("blender_addon.blender.session", fromlist=["x"])
    blender_addon.unregister()
    importlib.reload(blender_addon)
    blender_addon.register()
    new_session = __import__("blender_addon.blender.session", fromlist=["x"])
    assert new_session is not old_session and hasattr(bpy.types.Scene, "trackgo")
    assert "generate" in dir(bpy.ops.trackgo)


def test_reopened_file_saved_mid_job_shows_no_connection_or_job(addon, tmp_path):
    """connected/busy are saved with the .blend; the session behind them is not."""
    bpy = addon
    st = bpy.context.scene.trackgo
    st.connected, st.busy, st.status, st.progress_text = True, True, "Connected", "Frames 3/25"
    blend = tmp_path / "mid_job.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    st = bpy.context.scene.trackgo
    assert not st.connected and not st.busy and st.status == "Not connected"
    assert st.progress_text.startswith("Interrupted")


def test_hidden_annotation_layers_give_no_arrows(addon):
    """The eye toggle of an annotation layer is ``annotation_hide`` in every version (4.5 and
    5.0 have no ``hide``). Scripts cannot draw annotation strokes from 4.3 on, so the layer is
    a stand-in with exactly the real layer type's attributes."""
    from types import SimpleNamespace

    from blender_addon.blender import compat

    bpy = addon
    layer_type = getattr(bpy.types, "AnnotationLayer", None) or bpy.types.GPencilLayer
    assert "annotation_hide" in layer_type.bl_rna.properties

    def layer(info, hidden):
        stroke = SimpleNamespace(points=[SimpleNamespace(co=(0.1, 0.2, 0.0)), SimpleNamespace(co=(0.5, 0.5, 0.0))])
        attrs = {"annotation_hide": hidden, "info": info, "frames": [],
                 "active_frame": SimpleNamespace(strokes=[stroke])}
        if "hide" in layer_type.bl_rna.properties:
            attrs["hide"] = hidden
        return SimpleNamespace(**attrs)

    annotation = SimpleNamespace(layers=[layer("Shown", False), layer("Hidden", True)])
    assert [name for name, _, _ in compat.annotation_strokes(annotation)] == ["Shown"]
