"""First hour, item 4: the Sequencer preview's TrackGo tab finds the arrows drawn in the Image
Editor (one capture path for every panel)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .conftest import ARROW_BALL, ARROW_BOX, H, W, build_scene  # noqa: F401  (fixture)


def _annotation_with_arrows(bpy, monkeypatch, arrows):
    """A real annotation datablock holding the arrows (4.2 draws real strokes; from 4.3 on Python
    cannot add annotation strokes, so the stroke reader serves them for this datablock)."""
    from blender_addon.blender import compat
    if bpy.app.version < (4, 3, 0):
        from blender_addon import demo_scene
        return demo_scene.annotation_arrows(arrows, W, H, name="Drawn")
    annot = compat.new_annotation("Drawn")
    real = compat.annotation_strokes
    strokes = [("Note", i, [(x / W, 1 - y / H, 0.0) for x, y in pts]) for i, pts in enumerate(arrows)]

    def fake(annotation):
        if annotation is not None and annotation.name == "Drawn":
            yield from strokes
        else:
            yield from real(annotation)

    monkeypatch.setattr(compat, "annotation_strokes", fake)
    return annot


def _contexts(bpy, st, annot):
    image_space = SimpleNamespace(type="IMAGE_EDITOR", image=st.reference, annotation=annot, grease_pencil=annot)
    seq_space = SimpleNamespace(type="SEQUENCE_EDITOR", view_type="PREVIEW", annotation=None, grease_pencil=None)
    area = SimpleNamespace(type="IMAGE_EDITOR", spaces=SimpleNamespace(active=image_space))
    wm = SimpleNamespace(windows=[SimpleNamespace(screen=SimpleNamespace(areas=[area]))])
    scene = bpy.context.scene
    return (SimpleNamespace(space_data=image_space, scene=scene, window_manager=wm),
            SimpleNamespace(space_data=seq_space, scene=scene, window_manager=wm))


def _clear_arrow_sources(st):
    st.annotation = None
    st.arrows_object = None


def test_sequencer_panel_reads_the_arrows_drawn_in_the_image_editor(build_scene, monkeypatch):
    import bpy
    from blender_addon.blender import inputs

    scene = build_scene()
    st = scene.trackgo
    _clear_arrow_sources(st)
    annot = _annotation_with_arrows(bpy, monkeypatch, [ARROW_BALL, ARROW_BOX])
    image_ctx, seq_ctx = _contexts(bpy, st, annot)
    # Paired from the Sequencer preview's tab: it finds the Image Editor's strokes.
    assert inputs.auto_pair(seq_ctx, st) == 2
    assert all(t.arrow for t in st.tracks)
    src = inputs.snapshot(seq_ctx, st)
    assert np.allclose(src.tracks[0].arrow, ARROW_BALL, atol=1e-3)
    # Paired in the Image Editor, generated from the Sequencer preview: the same arrows.
    st.annotation = None
    inputs.auto_pair(image_ctx, st)
    assert st.annotation == annot  # the strokes the pairing used are pinned for every panel
    lone = SimpleNamespace(space_data=seq_ctx.space_data, scene=scene, window_manager=SimpleNamespace(windows=[]))
    src = inputs.snapshot(lone, st)
    assert [t.name for t in src.tracks] == ["Ball", "Box"]
    assert np.allclose(src.tracks[1].arrow, ARROW_BOX, atol=1e-3)
