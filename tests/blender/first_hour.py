"""Helpers for the first-hour tests: scenes of any size with N tracks, job bodies on the wire."""
from __future__ import annotations

import numpy as np

from .conftest import add_mask_layer, arrows_as_annotation, arrows_as_gp_object, circle_points, make_reference


def scene_with_tracks(bpy, width: int, height: int, n_tracks: int, frames: int = 3):
    """A ``width`` x ``height`` reference, one circle mask layer and one arrow per track."""
    scene = bpy.context.scene
    st = scene.trackgo
    st.reference = make_reference(bpy, width, height)
    mask = bpy.data.masks.new("Mask")
    arrows = []
    r = 0.06 * min(width, height)
    for i in range(n_tracks):
        cx = width * (i + 1) / (n_tracks + 1)
        cy = height * (0.3 if i % 2 else 0.6)
        add_mask_layer(mask, f"Part {i + 1}", circle_points(cx, cy, r), width, height)
        arrows.append([(cx, cy), (cx + 0.05 * width, cy - 0.05 * height), (cx + 0.1 * width, cy)])
    st.mask = mask
    if bpy.app.version < (4, 3, 0):
        st.annotation = arrows_as_annotation(bpy, arrows, width, height)
    else:
        st.arrows_object = arrows_as_gp_object(bpy, scene, arrows, width, height)
    st.frames = frames
    st.num_inference_steps = 2
    st.random_seed = False
    st.seed = 7
    scene.frame_current = 1
    return scene, arrows


def sent_messages(monkeypatch):
    """Record every submit / plan body the add-on's client sends (body, payload sizes)."""
    from blender_addon.io import client as io_client

    sent = []
    real = io_client.Client.send

    def spy(self, msg):
        if msg.type in ("submit", "plan"):
            sent.append((msg.type, msg.body, [len(p) for p in msg.payloads]))
        return real(self, msg)

    monkeypatch.setattr(io_client.Client, "send", spy)
    return sent


def png_size(path) -> tuple[int, int]:
    from shared_protocol.images import read_png_info
    info = read_png_info(open(path, "rb").read())
    return info.width, info.height


def mean_abs(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).mean())
